"""One dataset through the pipeline: the recipe's `data`, inherited by every phase that
does not set its own, named in the plan by a label that holds the file's content digest
(issue 21, "One dataset through the pipeline")."""

import hashlib
import json
import os
from pathlib import Path

import pytest

from forgelang import api, plancache
from forgelang.data_label import is_label, same_data
from forgelang.plan import Plan
from forgelang.plan_schema import PlanSchemaError, validate_plan
from forgelang.render import render_plan

LINES = '{"prompt": "2+2=", "answer": "4"}\n{"prompt": "3+3=", "answer": "6"}\n'
PHASES = ('phase cognate {{ steps = 5  architecture = smoke  seq_len = 64 {cognate} }}\n'
          "phase evomerge {{ population = 4  generations = 1 {evomerge} }}\n")


def _recipe(folder: Path, recipe: str = "", cognate: str = "", evomerge: str = "",
            extra: str = "") -> Path:
    root = folder / "r.forge"
    root.write_text(f'forge 1\nrecipe "r" {{ seed = 1 {recipe} }}\n'
                    + PHASES.format(cognate=cognate, evomerge=evomerge) + extra)
    return root


def _data(folder: Path, text: str = LINES, name: str = "mine.jsonl") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_phase_inherits_the_recipes_data(tmp_path):
    data = _data(tmp_path)
    plan = api.compile_plan(_recipe(tmp_path, recipe='data = "mine.jsonl"'))
    for name in ("cognate", "evomerge"):
        step = plan.step(name)
        assert step.params["data"] == str(data)
        assert step.data == f"file:mine.jsonl@{_sha(data)[:12]}"


def test_a_phases_own_data_wins_over_the_recipes(tmp_path):
    _data(tmp_path)
    plan = api.compile_plan(_recipe(tmp_path, recipe='data = "mine.jsonl"',
                                    evomerge="data = suite"))
    assert plan.step("cognate").data.startswith("file:mine.jsonl@")
    assert plan.step("evomerge").params["data"] == "suite"
    assert plan.step("evomerge").data == "suite"


def test_recipe_data_suite_is_the_default_and_changes_no_cache_key(tmp_path):
    plain = api.compile_plan(_recipe(tmp_path))
    explicit = api.compile_plan(_recipe(tmp_path, recipe="data = suite"))
    assert [s.cache_key for s in plain.steps] == [s.cache_key for s in explicit.steps]
    assert {s.data for s in plain.steps} == {"suite"}


def test_inherited_and_own_data_give_the_same_step(tmp_path):
    _data(tmp_path)
    inherited = api.compile_plan(_recipe(tmp_path, recipe='data = "mine.jsonl"'))
    own = api.compile_plan(_recipe(tmp_path, cognate='data = "mine.jsonl"',
                                   evomerge='data = "mine.jsonl"'))
    assert [s.to_json() for s in inherited.steps] == [s.to_json() for s in own.steps]


def test_the_cache_key_follows_the_content_not_the_timestamp(tmp_path):
    """An edit that keeps the size and the mtime (a copy with `cp -p`, a restored backup)
    is still other data: the key holds the content's sha256."""
    data = _data(tmp_path)
    root = _recipe(tmp_path, recipe='data = "mine.jsonl"')
    before = api.compile_plan(root)
    stat = data.stat()
    data.write_text(LINES.replace('"4"', '"5"'))  # same size
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = api.compile_plan(root)
    for name in ("cognate", "evomerge"):
        assert before.step(name).cache_key != after.step(name).cache_key
        assert before.step(name).data != after.step(name).data


def test_the_plan_cache_misses_on_an_edit_that_keeps_size_and_mtime(tmp_path, monkeypatch):
    monkeypatch.setenv("FORGE_CACHE_DIR", str(tmp_path / "cache"))
    data = _data(tmp_path)
    root = _recipe(tmp_path, recipe='data = "mine.jsonl"')
    plan, _, files = api.plan_with_files(root)
    key = plancache.key(root, [], [])
    plancache.store(key, plan, files)
    assert plancache.load(key).to_json() == plan.to_json()
    stat = data.stat()
    data.write_text(LINES.replace('"4"', '"5"'))
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert plancache.load(key) is None


@pytest.mark.parametrize("where", ["recipe", "phase"])
def test_a_suite_only_kind_refuses_a_file_at_plan_time(tmp_path, where):
    _data(tmp_path)
    bitnet = "phase bitnet { steps = 2 }\n" if where == "recipe" else \
        'phase bitnet { steps = 2  data = "mine.jsonl" }\n'
    recipe = 'data = "mine.jsonl"' if where == "recipe" else ""
    root = _recipe(tmp_path, recipe=recipe, extra=bitnet)
    plan, diags = api.check(root)
    assert plan is None
    (error,) = [d for d in diags.sorted() if d.code == "E074"]
    assert "bitnet" in error.message and "mine.jsonl" in error.message
    assert "data = suite" in error.hint
    line = root.read_text().splitlines()[error.span.line - 1]
    assert line[error.span.col - 1:].startswith('"mine.jsonl"')  # where the value was written
    assert ("recipe" in error.message) == (where == "recipe")


def test_a_suite_only_kind_runs_on_the_suite_when_it_says_so(tmp_path):
    _data(tmp_path)
    root = _recipe(tmp_path, recipe='data = "mine.jsonl"',
                   extra="phase bitnet { steps = 2  data = suite }\n")
    plan = api.compile_plan(root)
    assert plan.step("bitnet").data == "suite"
    assert plan.step("evomerge").data.startswith("file:")


def test_a_bad_recipe_data_value_is_refused(tmp_path):
    _, diags = api.check(_recipe(tmp_path, recipe='data = "mine.csv"'))
    assert any("data" in d.message and d.severity == "error" for d in diags.items)


def test_the_plan_shows_each_phases_data_when_a_file_is_used(tmp_path):
    data = _data(tmp_path)
    mixed = api.compile_plan(_recipe(tmp_path, cognate='data = "mine.jsonl"'))
    text = render_plan(mixed)
    (line,) = [x for x in text.splitlines() if "data file:" in x]
    assert line.strip().startswith(f"data file:mine.jsonl@{_sha(data)[:12]} (")
    assert line.endswith("/mine.jsonl)")  # the path it reads (a long one shortened)
    assert "data suite (synthetic task suite)" in text  # evomerge: mixed data is visible
    assert " data " not in render_plan(api.compile_plan(_recipe(tmp_path)))


def test_a_saved_plan_keeps_the_data_label_and_refuses_a_bad_one(tmp_path):
    _data(tmp_path)
    plan = api.compile_plan(_recipe(tmp_path, recipe='data = "mine.jsonl"'))
    saved = json.loads(json.dumps(plan.to_json()))
    again = Plan.from_json(validate_plan(saved))
    assert [s.data for s in again.steps] == [s.data for s in plan.steps]
    saved["phases"][0]["data"] = "file:../../etc/passwd\n"
    with pytest.raises(PlanSchemaError, match="data"):
        validate_plan(saved)


def test_labels_compare_by_content():
    a, b = "file:mine.jsonl@0123456789ab", "file:copy.jsonl@0123456789ab"
    assert same_data(a, b) is True  # the same bytes under another name
    assert same_data(a, "file:mine.jsonl@ba9876543210") is False
    assert same_data(a, "suite") is False and same_data("suite", "suite") is True
    assert same_data("file:mine.jsonl", a) is True  # an old row without a digest: by name
    assert same_data(None, a) is None
    assert is_label(a) and is_label("suite") and not is_label("file:a/b.jsonl")


def test_an_edited_data_file_is_the_rerun_reason(tmp_path):
    from forgelang.commands import rerun_reason

    data = _data(tmp_path)
    root = _recipe(tmp_path, recipe='data = "mine.jsonl"')
    before = api.compile_plan(root).step("cognate").to_json()
    data.write_text(LINES + '{"prompt": "4+4=", "answer": "8"}\n')
    step = api.compile_plan(root).step("cognate")
    assert step.cache_key != before["cache_key"]
    assert rerun_reason(step, before, {}) == "data changed"


def test_a_plan_saved_before_data_labels_is_labelled_from_its_params(tmp_path):
    _data(tmp_path)
    plan = api.compile_plan(_recipe(tmp_path, cognate='data = "mine.jsonl"'))
    saved = plan.to_json()
    for step in saved["phases"]:
        del step["data"]
    old = Plan.from_json(validate_plan(saved))
    assert old.step("cognate").data == "file:mine.jsonl"  # not "suite": it reads the file
    assert old.step("evomerge").data == "suite"
    assert same_data(old.step("cognate").data, plan.step("cognate").data) is True


def test_a_missing_recipe_data_file_is_one_error_at_the_recipes_value(tmp_path):
    root = _recipe(tmp_path, recipe='data = "gone.jsonl"')
    plan, diags = api.check(root)
    assert plan is None
    (error,) = [d for d in diags.sorted() if d.code == "E073"]  # not one per phase
    assert "the recipe's data file" in error.message and "gone.jsonl" in error.message
    assert (error.span.line, error.span.col) == (2, 30)  # the value of `data`
