"""``forge diff`` on hand-written runs: the parameter that differs, the metrics it moved,
models and hashes, runs from one workspace or two, and --json."""

from __future__ import annotations

import json

from report_runs import write_run

from runtime.commands_report import diff
from runtime.diff import diff_runs, plan_parameters
from runtime.registry import ModelRegistry
from runtime.report import gather


def _gather(workspace, run_id):
    with ModelRegistry(workspace, create=False) as reg:
        return gather(reg, run_id, lineage=False)


def test_the_one_parameter_that_differs_and_what_it_moved(tmp_path):
    write_run(tmp_path, "run-a", steps=20)
    write_run(tmp_path, "run-b", steps=40)
    result = diff_runs(_gather(tmp_path, "run-a"), _gather(tmp_path, "run-b"))
    assert result["parameters"] == [{"key": "cognate.steps", "a": "20", "b": "40"}]
    cognate = next(p for p in result["phases"] if p["phase"] == "cognate")
    rows = {r["name"]: r for r in cognate["metrics"]}
    assert rows["train_loss"]["a"] == 0.2 and rows["train_loss"]["b"] == 0.1
    assert rows["train_loss"]["change"] == -0.1 and rows["train_loss"]["relative"] == -0.5
    assert rows["reasoning: accuracy"]["change"] > 0


def test_models_and_hashes_side_by_side(tmp_path):
    write_run(tmp_path, "run-a")
    write_run(tmp_path, "run-b")
    result = diff_runs(_gather(tmp_path, "run-a"), _gather(tmp_path, "run-b"))
    roles = [(m["phase"], m["role"]) for m in result["models"]]
    assert roles == [("cognate", "reasoning"), ("cognate", "memory"), ("evomerge", "champion"),
                     ("experts", "experts"), ("compression", "compressed")]
    assert all(len(m["sha256_a"]) == 64 and not m["same"] for m in result["models"])


def test_a_phase_in_one_run_only(tmp_path):
    write_run(tmp_path, "run-a", extra_phases=False)
    write_run(tmp_path, "run-b")
    result = diff_runs(_gather(tmp_path, "run-a"), _gather(tmp_path, "run-b"))
    experts = next(p for p in result["phases"] if p["phase"] == "experts")
    assert experts["status_a"] is None and experts["status_b"] == "completed"
    assert all(r["a"] is None and r["change"] is None for r in experts["metrics"])
    keys = {p["key"]: p for p in result["parameters"]}
    assert keys["experts.kind"] == {"key": "experts.kind", "a": None, "b": "experts"}


def test_plan_parameters_use_override_keys():
    class Data:
        plan = {"seed": 1, "budget": {"seconds": 5.0}, "totals": {"x": 1},
                "gates": [{"phase": "p", "expression": "accuracy > 0", "on_fail": "stop"}]}

        def plan_steps(self):
            return [{"name": "p", "kind": "k", "params": {"a": {"b": [1, 2]}}, "estimate": {}}]

    flat = plan_parameters(Data())
    assert flat == {"seed": "1", "budget.seconds": "5.0", "p.kind": "k", "p.a.b": "[1, 2]",
                    "gates.p": "accuracy > 0 (on_fail = stop)"}


def test_command_two_workspaces_and_json(tmp_path, capsys):
    write_run(tmp_path / "one", "run-a", steps=20)
    write_run(tmp_path / "two", "run-b", steps=40)
    assert diff("run-a", "run-b", tmp_path / "one", tmp_path / "two", json=True) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["a"]["workspace"] == str(tmp_path / "one")
    assert result["b"]["workspace"] == str(tmp_path / "two")
    assert result["parameters"][0]["key"] == "cognate.steps"


def test_command_console_shows_the_parameter_and_moved_metrics(tmp_path, capsys):
    write_run(tmp_path, "run-a", steps=20)
    write_run(tmp_path, "run-b", steps=40)
    assert diff("run-a", "run-b", tmp_path) == 0
    out = capsys.readouterr().out
    assert "parameters that differ (1)" in out and "cognate.steps" in out
    assert "train_loss" in out and "-50.0%" in out
    assert "evomerge (A completed, B completed)" in out


def test_command_errors_are_one_line(tmp_path, capsys):
    write_run(tmp_path, "run-a")
    assert diff("run-a", "nope", tmp_path) == 2
    assert capsys.readouterr().err.strip() == "error: no run 'nope' in this workspace"
    assert diff("run-a", "run-a", tmp_path, tmp_path / "missing") == 2
    assert "no registry at" in capsys.readouterr().err


def test_command_a_phase_in_one_run_is_one_line(tmp_path, capsys):
    write_run(tmp_path, "run-a", extra_phases=False)
    write_run(tmp_path, "run-b")
    assert diff("run-a", "run-b", tmp_path) == 0
    out = capsys.readouterr().out
    assert "experts (A absent, B completed): " in out and " figures in B only" in out
    assert "(absent)" in out  # experts.kind and the others exist in B's plan only
