"""Compiler: variables, presets, imports, --set overrides, gates, inputs, cache keys, JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from forgelang import api
from forgelang.plan import Plan

ROOT = Path(__file__).resolve().parents[2]
HEAD = 'forge 1\nrecipe "r" { seed = 3  device = cpu }\n'


def _plan(text: str, tmp_path: Path | None = None, name: str = "r.forge", **kw) -> Plan:
    if tmp_path is None:
        return api.compile_plan(text=text, **kw)
    path = tmp_path / name
    path.write_text(text)
    return api.compile_plan(path, **kw)


def _codes(text: str, **kw) -> list[str]:
    return [d.code for d in api.check(text=text, **kw)[1].errors]


def test_variables_fold_into_params():
    plan = _plan(HEAD + "let n = 4\nphase cognate { steps = n * 5  batch_size = n }\n")
    params = plan.step("cognate").params
    assert params["steps"] == 20 and params["batch_size"] == 4


def test_presets_extends_and_typed_override():
    text = HEAD + ("preset a { muon_lr = 1e-3  grokfast_alpha = 0.9 }\n"
                   "preset b extends a { muon_lr = 5e-4 }\n"
                   "phase cognate { optimizer = b { grokfast_alpha = 0.5 } }\n")
    opt = _plan(text).step("cognate").params["optimizer"]
    assert opt["muon_lr"] == pytest.approx(5e-4) and opt["grokfast_alpha"] == pytest.approx(0.5)
    opt = _plan(HEAD + "preset p { muon_lr = 1e-3 }\nphase cognate { optimizer = p { muon_lr = 1 } }\n")
    assert opt.step("cognate").params["optimizer"]["muon_lr"] == 1


def test_imports_with_and_without_as(tmp_path):
    (tmp_path / "lib.forge").write_text("forge 1\nlet n = 7\npreset p { muon_lr = 2e-3 }\n")
    plain = _plan(HEAD + 'import "lib.forge"\nphase cognate { steps = n  optimizer = p }\n', tmp_path)
    assert plain.step("cognate").params["steps"] == 7
    assert plain.step("cognate").params["optimizer"]["muon_lr"] == pytest.approx(2e-3)
    text = HEAD + 'import "lib.forge" as lib\nphase cognate { steps = lib.n  optimizer = lib.p }\n'
    named = _plan(text, tmp_path)
    assert named.step("cognate").params["steps"] == 7
    assert named.step("cognate").params["optimizer"]["muon_lr"] == pytest.approx(2e-3)


def test_set_overrides():
    text = HEAD + "let n = 4\nphase cognate { steps = n  eval { examples = 8 } }\n"
    plan = _plan(text, overrides=["n=9", "recipe.seed=11", "cognate.eval.examples=5"])
    assert plan.step("cognate").params["steps"] == 9 and plan.seed == 11
    assert plan.step("cognate").params["eval"]["examples"] == 5
    assert "E100" in _codes(text, overrides=["nosuch.steps=3"])
    assert "E100" in _codes(text, overrides=["not an override"])


def test_set_override_changes_one_field_of_a_built_in_preset():
    """`--set` on a field of a block given by a built-in name keeps the rest of the preset."""
    text = HEAD + "phase cognate { architecture = smoke  optimizer = mugrokfast_pretrain }\n"
    step = _plan(text, overrides=["cognate.architecture.memory_chunk=8",
                                  "cognate.optimizer.muon_lr=0.002"]).step("cognate")
    arch, opt = step.params["architecture"], step.params["optimizer"]
    assert arch["memory_chunk"] == 8 and arch["d_model"] == 32  # still smoke
    assert step.estimate.params == _plan(text).step("cognate").estimate.params
    assert opt["muon_lr"] == 0.002 and opt["muon_scale"] == "moonlight"  # still the preset
    assert opt["grokfast_lambda"] == 0.3
    assert "E025" in _codes(text, overrides=["cognate.architecture.n_heads=5"])  # 32 % 5


def test_gates_on_fail_warn():
    text = HEAD + "phase cognate { }\ngate cognate {\n  loss <= 9\n  on_fail = warn\n}\n"
    (gate,) = _plan(text).gates
    assert gate.phase == "cognate" and gate.on_fail == "warn" and "loss" in gate.expression


def test_explicit_inputs_toposort():
    text = HEAD + ("phase cognate { models = 1  roles = [general] }\nphase evomerge as merged { inputs = [tuned] }\n"
                   "phase quietstar as tuned { inputs = [cognate] }\n")
    plan = _plan(text)
    order = [s.name for s in plan.steps]
    assert order.index("tuned") < order.index("merged")
    assert plan.step("merged").inputs == ("tuned",)


def test_cache_keys_change_and_chain_downstream():
    text = HEAD + "let n = 4\nphase cognate { steps = n }\nphase evomerge { generations = 2 }\n"
    a, b = _plan(text), _plan(text, overrides=["n=5"])
    assert a.step("cognate").cache_key != b.step("cognate").cache_key
    assert a.step("evomerge").cache_key != b.step("evomerge").cache_key  # chained
    assert _plan(text).step("evomerge").cache_key == a.step("evomerge").cache_key  # stable


def test_plan_json_round_trip():
    plan = api.compile_plan(ROOT / "recipes" / "smoke.forge")
    data = json.loads(json.dumps(plan.to_json()))
    assert Plan.from_json(data).to_json() == plan.to_json()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "forgelang.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_cli_validate_json_and_exit_codes(tmp_path):
    good = _cli("validate", "--json", str(ROOT / "recipes" / "smoke.forge"))
    assert good.returncode == 0, good.stderr
    bad = tmp_path / "bad.forge"
    bad.write_text(HEAD + "phase cognate { stepz = 3 }\n")
    out = _cli("validate", "--json", str(bad))
    assert out.returncode == 1
    data = json.loads(out.stdout)
    items = data if isinstance(data, list) else next(v for v in data.values() if isinstance(v, list))
    flat = [d for x in items for d in (x.get("diagnostics", [x]) if isinstance(x, dict) else [])]
    d = next(d for d in flat if d.get("code") == "E021")
    assert {"severity", "code", "title", "message", "hint", "range"} <= set(d)
    assert d["range"]["start"]["line"] == 3 and d["range"]["start"]["column"] == 17
    assert _cli("validate", "--no-such-flag").returncode == 2


def test_all_errors_reported_together():
    text = HEAD + "phase cognate { stepz = 3 }\nphase cognet { }\ngate nosuch { loss >= 1 }\n"
    codes = _codes(text)
    assert len(codes) == 3 and set(codes) == {"E021", "E020", "E060"}


def test_api_and_plan_do_not_import_torch():
    code = ("import sys\nfrom forgelang import api\n"
            f"p = api.compile_plan({str(ROOT / 'recipes' / 'smoke.forge')!r})\n"
            "p.to_json()\nbad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
            "assert not bad, bad\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr


def test_whole_block_errors_name_the_phase():
    """A check across fields (a model validator) has no field to name: the phase is named."""
    from forgelang import api

    text = ('forge 1\nrecipe "r" { seed = 1 }\nphase cognate { architecture = smoke }\n'
            "phase evomerge { population = 2  generations = 1 }\n")
    (d,) = [d for d in api.validate(text=text) if d.code == "E025"]
    assert d.message.startswith("`evomerge`: elitism (2) must be below population (2)")
    assert (d.span.line, d.span.col) == (4, 16)
