"""The plan cache returns the same plan, and misses when any recipe file changes."""

from pathlib import Path

from forgelang import api, plancache


def _write(d: Path, steps: int, lr: str = "1e-3") -> Path:
    (d / "p.forge").write_text(f"forge 1\npreset opt {{ muon_lr = {lr} }}\n")
    root = d / "r.forge"
    root.write_text('forge 1\nimport "p.forge"\nrecipe "r" { seed = 1 }\n'
                    f"phase cognate {{ steps = {steps}  architecture = smoke  "
                    "optimizer = opt  seq_len = 64 }\n")
    return root


def test_hit_equals_fresh_compile_and_imports_invalidate(tmp_path):
    root = _write(tmp_path, 5)
    plan, diags, files = api.plan_with_files(root)
    assert not diags.items and len(files) == 2
    key = plancache.key(root, [], [])
    plancache.store(key, plan, files)
    assert plancache.load(key).to_json() == plan.to_json()
    (tmp_path / "p.forge").write_text("forge 1\npreset opt { muon_lr = 2e-3 }\n")
    assert plancache.load(key) is None  # an imported file changed
    _write(tmp_path, 6)
    assert plancache.key(root, [], []) != key  # the root file changed
    assert plancache.key(root, ["cognate.steps=7"], []) != plancache.key(root, [], [])
