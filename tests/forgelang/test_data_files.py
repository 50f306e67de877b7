"""A phase's `data` file: read relative to the recipe, fingerprinted into the cache keys,
checked at plan time, and re-checked by the plan cache."""

import os
from pathlib import Path

from forgelang import api, plancache

RECIPE = ('forge 1\nrecipe "r" {{ seed = 1 }}\n'
          'phase cognate {{ steps = 5  architecture = smoke  seq_len = 64  data = "{data}" }}\n'
          "phase evomerge {{ population = 4  generations = 1 }}\n")


def _recipe(folder: Path, data: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    root = folder / "r.forge"
    root.write_text(RECIPE.format(data=data))
    return root


def _touch(path: Path, text: str) -> None:
    path.write_text(text)
    stat = path.stat()  # a new mtime even on filesystems with coarse timestamps
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


def test_relative_data_is_read_from_the_recipes_folder(tmp_path, monkeypatch):
    root = _recipe(tmp_path / "recipes", "data/train.jsonl")
    (tmp_path / "recipes" / "data").mkdir()
    _touch(tmp_path / "recipes" / "data" / "train.jsonl", '{"prompt": "a", "answer": "b"}\n')
    monkeypatch.chdir(tmp_path)  # not the recipe's folder
    plan = api.compile_plan(root)
    assert plan.step("cognate").params["data"] == str(tmp_path / "recipes/data/train.jsonl")


def test_editing_the_data_file_changes_the_cache_keys(tmp_path):
    root = _recipe(tmp_path, "train.jsonl")
    data = tmp_path / "train.jsonl"
    _touch(data, '{"prompt": "a", "answer": "b"}\n')
    before = api.compile_plan(root)
    _touch(data, '{"prompt": "a", "answer": "c"}\n')
    after = api.compile_plan(root)
    for name in ("cognate", "evomerge"):  # the phase and everything downstream re-run
        assert before.step(name).cache_key != after.step(name).cache_key


def test_missing_data_file_is_a_plan_error(tmp_path):
    root = _recipe(tmp_path, "missing.jsonl")
    plan, diags = api.check(root)
    assert plan is None
    (error,) = [d for d in diags.sorted() if d.code == "E073"]
    assert "missing.jsonl" in error.message
    assert (error.span.line, error.span.col) == (3, 71)  # the `data` value


def test_plan_cache_misses_when_the_data_file_changes(tmp_path):
    root = _recipe(tmp_path, "train.jsonl")
    data = tmp_path / "train.jsonl"
    _touch(data, '{"prompt": "a", "answer": "b"}\n')
    plan, diags, files = api.plan_with_files(root)
    key = plancache.key(root, [], [])
    plancache.store(key, plan, files)
    assert plancache.load(key).to_json() == plan.to_json()
    _touch(data, '{"prompt": "a", "answer": "c"}\n')
    assert plancache.load(key) is None
    data.unlink()
    assert plancache.load(key) is None


def test_a_cold_plan_hashes_a_data_file_once(tmp_path, monkeypatch):
    """The planner hashes the file; storing the plan in the cache reuses the digest its
    data label holds instead of reading the file again. A hit re-checks it."""
    from forgelang import data_label

    root = tmp_path / "r.forge"
    root.write_text('forge 1\nrecipe "r" { seed = 1  data = "train.jsonl" }\n'
                    "phase cognate { steps = 5  architecture = smoke  seq_len = 64 }\n"
                    "phase evomerge { population = 4  generations = 1 }\n")
    _touch(tmp_path / "train.jsonl", '{"prompt": "a", "answer": "b"}\n')
    hashed = []
    real = data_label.content_sha256
    monkeypatch.setattr(data_label, "content_sha256", lambda p: hashed.append(p) or real(p))
    monkeypatch.setattr(plancache, "content_sha256", data_label.content_sha256)
    monkeypatch.setattr("forgelang.planner.content_sha256", data_label.content_sha256)
    plan, diags, files = api.plan_with_files(root)
    key = plancache.key(root, [], [])
    plancache.store(key, plan, files)
    assert len(hashed) == 1
    assert plancache.load(key).to_json() == plan.to_json()
    assert len(hashed) == 2
