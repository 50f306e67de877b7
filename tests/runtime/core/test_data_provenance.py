"""Metrics name the data they were measured on; retention and `forge lineage` never
compare numbers from two data sets (issue 21, "One dataset through the pipeline")."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from forgelang.plan import GateSpec
from runtime import commands
from runtime.gates import evaluate_gate
from runtime.kernels import InputModel
from runtime.registry import ModelRegistry, NewModel
from runtime.registry_schema import MIGRATIONS, _statements
from runtime.retention import INPUT_DATA_DIFFERS, add_retention

MINE = "file:mine.jsonl@0123456789ab"
STEP = {"name": "cognate", "kind": "cognate", "cache_key": "k1", "params": {"data": "/d/m.jsonl"},
        "seed": 0, "estimate": {"peak_memory_bytes": 1, "seconds": 1.0}, "data": MINE}


def _input(accuracy: float, data: str | None, **extra) -> InputModel:
    return InputModel(path=Path("."), role="r", model_id=1, data=data,
                      metrics={"accuracy": accuracy, **extra})


def _output(accuracy: float) -> NewModel:
    return NewModel("cc" * 32, "out", 10, 10, parents=(1,), metrics={"accuracy": accuracy})


# ---------------------------------------------------------------- retention
def test_retention_from_a_parent_measured_on_the_same_data():
    out, phase = _output(0.4), {}
    add_retention([out], [_input(0.5, MINE)], phase, MINE)
    assert out.metrics["retention"] == pytest.approx(0.8)
    assert out.metrics["cumulative_retention"] == pytest.approx(0.8)
    assert INPUT_DATA_DIFFERS not in phase


def test_retention_from_a_parent_measured_on_other_data_is_undefined():
    """The issue's case: the parent's 0.021 on the user's file against 0.0625 on the suite."""
    out, phase = _output(0.0625), {}
    add_retention([out], [_input(0.021, MINE)], phase, "suite")
    assert "retention" not in out.metrics and "cumulative_retention" not in out.metrics
    assert phase[INPUT_DATA_DIFFERS] == 1.0


def test_a_baseline_measured_in_the_phase_is_on_its_own_data():
    out, phase = _output(0.3), {"input_accuracy": 0.6}
    add_retention([out], [_input(0.021, MINE)], phase, "suite")
    assert out.metrics["retention"] == pytest.approx(0.5)
    # the chain starts here: the parent had no retention of its own
    assert out.metrics["cumulative_retention"] == pytest.approx(0.5)


def test_cumulative_retention_does_not_multiply_across_data_sets():
    parent = _input(0.5, "suite", retention=0.9, cumulative_retention=0.9)
    out, phase = _output(0.4), {"input_accuracy": 0.5}
    add_retention([out], [parent], phase, MINE)
    assert out.metrics["retention"] == pytest.approx(0.8)
    assert "cumulative_retention" not in out.metrics
    # ... and a child of that model, on the same data, inherits the broken chain
    child, phase = _output(0.4), {"input_accuracy": 0.4}
    add_retention([child], [_input(0.4, MINE, retention=0.8)], phase, MINE)
    assert child.metrics["retention"] == pytest.approx(1.0)
    assert "cumulative_retention" not in child.metrics


def test_cumulative_retention_multiplies_on_one_data_set():
    parent = _input(0.5, MINE, retention=0.9, cumulative_retention=0.9)
    out, phase = _output(0.4), {"input_accuracy": 0.5}
    add_retention([out], [parent], phase, MINE)
    assert out.metrics["cumulative_retention"] == pytest.approx(0.72)


def test_a_gate_on_retention_measured_across_data_says_why():
    verdict = evaluate_gate(GateSpec("evomerge", "retention >= 0.9"),
                            {"accuracy": 0.06, INPUT_DATA_DIFFERS: 1.0})
    assert not verdict.passed
    assert "undefined" in verdict.message and "other data" in verdict.message
    assert "forge lineage" in verdict.message


# ---------------------------------------------------------------- registry and lineage
def _two_phases(reg: ModelRegistry, second: str) -> tuple[int, int]:
    reg.create_session("s", {}, recipe="r")
    p1 = reg.start_phase_run("s", STEP, 0)
    (m1,) = reg.complete_phase_run(p1, [NewModel("aa" * 32, "reasoning", 10, 10,
                                                 metrics={"accuracy": 0.021})], {}, 1, 1.0)
    step2 = {**STEP, "name": "evomerge", "kind": "evomerge", "cache_key": "k2", "data": second,
             "params": {"data": "suite"}}
    p2 = reg.start_phase_run("s", step2, 1)
    (m2,) = reg.complete_phase_run(p2, [NewModel("bb" * 32, "champion", 10, 10, parents=(m1,),
                                                 metrics={"accuracy": 0.0625})], {}, 1, 1.0)
    reg.finish_session("s", "completed")
    return m1, m2


def test_show_json_names_each_phases_and_models_data(workspace, capsys):
    with ModelRegistry(workspace) as reg:
        _two_phases(reg, "suite")
        shown = reg.show("s")
    assert [p["data"] for p in shown["phases"]] == [MINE, "suite"]
    assert [p["models"][0]["data"] for p in shown["phases"]] == [MINE, "suite"]
    assert commands.show(workspace, "s") == 0
    assert f"cognate (measured on {MINE})" in capsys.readouterr().out


def test_lineage_flags_a_parent_measured_on_other_data(workspace, capsys):
    with ModelRegistry(workspace) as reg:
        _, m2 = _two_phases(reg, "suite")
        tree = reg.lineage(m2)
    (parent,) = tree["parents"]
    assert tree["data"] == "suite" and parent["data"] == MINE
    assert parent["same_data_as_child"] is False
    assert commands.lineage(workspace, str(m2)) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich may wrap the long line
    assert "accuracy=0.0625 on suite" in out
    assert f"accuracy=0.0210 on {MINE} — (measured on other data: {MINE} vs suite" in out


def test_lineage_on_one_data_set_has_no_flag(workspace, capsys):
    with ModelRegistry(workspace) as reg:
        _, m2 = _two_phases(reg, MINE)
        (parent,) = reg.lineage(m2)["parents"]
    assert parent["same_data_as_child"] is True
    assert commands.lineage(workspace, str(m2)) == 0
    assert "other data" not in capsys.readouterr().out


def test_rows_from_before_the_data_column_fall_back_to_the_data_parameter(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    conn = sqlite3.connect(ws / "registry.db", isolation_level=None)
    for migration in MIGRATIONS[:2]:
        for statement in _statements(migration):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO runs (id, config, status, created_at, updated_at) "
                 "VALUES ('r', '{}', 'completed', 0, 0)")
    for i, data in enumerate(("/x/mine.jsonl", "suite")):
        conn.execute("INSERT INTO phase_runs (run_id, name, kind, position, status, cache_key, "
                     "params, seed, estimate, started_at) VALUES ('r', ?, 'cognate', ?, "
                     "'completed', ?, ?, 0, '{}', 0)", (f"p{i}", i, f"k{i}", f'{{"data": "{data}"}}'))
        conn.execute("INSERT INTO models (phase_run_id, sha256, role, params, size_bytes, "
                     "size_category, created_at) VALUES (?, ?, 'r', 1, 1, 'tiny', 0)",
                     (i + 1, f"{i}" * 64))
    conn.close()
    with ModelRegistry(ws) as reg:
        assert [m["data"] for m in reversed(reg.models())] == ["file:mine.jsonl", "suite"]
        assert [p["data"] for p in reg.show("r")["phases"]] == ["file:mine.jsonl", "suite"]


def test_a_gate_on_a_cumulative_retention_broken_by_a_data_change_says_why():
    verdict = evaluate_gate(GateSpec("quietstar", "cumulative_retention >= 0.5"),
                            {"accuracy": 0.4, "retention": 1.0, "input_accuracy": 0.4})
    assert not verdict.passed
    assert "data changed along this model's lineage" in verdict.message


def test_a_saved_plan_whose_data_file_changed_is_refused(tmp_path, capsys):
    """Its steps' cache keys name the old content: training on the new one under them
    would cache a result for data it was not computed from."""
    from forgelang import api

    data = tmp_path / "mine.jsonl"
    data.write_text('{"prompt": "2+2=", "answer": "4"}\n')
    recipe = tmp_path / "r.forge"
    recipe.write_text('forge 1\nrecipe "r" { seed = 1  device = cpu  data = "mine.jsonl" }\n'
                      "phase cognate { steps = 1  architecture = smoke  seq_len = 64 }\n")
    saved = tmp_path / "plan.json"
    saved.write_text(json.dumps(api.compile_plan(recipe).to_json()))
    data.write_text('{"prompt": "2+2=", "answer": "5"}\n')
    assert commands.apply(str(saved), workspace=str(tmp_path / "ws")) != 0
    err = " ".join(capsys.readouterr().err.split())
    assert "phase `cognate`: its data file" in err and "changed since the plan was made" in err


def test_a_data_file_several_steps_read_is_hashed_once_at_apply(tmp_path, monkeypatch):
    """The recipe's `data` is every phase's: apply checks its digest once, not per step."""
    from forgelang import api, data_label
    from runtime.orchestrator import _check_data

    (tmp_path / "mine.jsonl").write_text('{"prompt": "2+2=", "answer": "4"}\n')
    recipe = tmp_path / "r.forge"
    recipe.write_text('forge 1\nrecipe "r" { seed = 1  device = cpu  data = "mine.jsonl" }\n'
                      "phase cognate { steps = 1  architecture = smoke  seq_len = 64 }\n"
                      "phase evomerge { population = 2  generations = 1  elitism = 1  tournament_size = 2 }\n")
    plan = api.compile_plan(recipe)
    assert plan.steps[0].data == plan.steps[1].data != "suite"
    hashed = []
    real = data_label.content_sha256
    monkeypatch.setattr(data_label, "content_sha256", lambda p: hashed.append(p) or real(p))
    _check_data(list(plan.steps))
    assert len(hashed) == 1
