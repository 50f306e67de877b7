"""What ``forge apply/runs/models`` print: whole run ids, true phase counts, byte counts in
human units, the interrupted message once, where each model lives."""

from __future__ import annotations

import json
import re

import forge_test_kernels as tk
import pytest

from runtime import commands
from runtime import orchestrator as orchestrator_module
from runtime.registry import ModelRegistry

LONG_RECIPE = "recipes/" + "a-rather-long-recipe-name-" * 3 + ".forge"


@pytest.fixture
def run_apply(workspace, kernels, monkeypatch):
    """``commands.apply`` with the test kernels, on an 80-column console."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr(orchestrator_module, "_builtin_kernels", lambda: kernels)
    return lambda plan: commands.apply(plan, workspace)


def test_interrupted_is_said_once(run_apply, capsys):
    plan = tk.make_plan([("a", "train", [], {}), ("i", "interrupt", ["a"], {})])
    assert run_apply(plan) == 130
    captured = capsys.readouterr()
    said = " ".join((captured.out + captured.err).split())  # wherever a console wrapped it
    assert said.count("the completed phases are kept") == 1, said


def test_phases_done_counts_every_planned_phase(run_apply, workspace, capsys):
    plan = tk.make_plan([("i", "interrupt", [], {}), ("a", "train", ["i"], {})])
    assert run_apply(plan) == 130
    with ModelRegistry(workspace) as registry:
        run = registry.runs()[0]
    assert (run["done"], run["phases"]) == (0, 2)  # not 0/1: phase `a` never started
    capsys.readouterr()
    assert commands.runs(workspace) == 0
    assert "0/2" in capsys.readouterr().out


def test_peak_memory_is_printed_in_human_units(run_apply, capsys):
    assert run_apply(tk.make_plan(tk.CHAIN[:1])) == 0
    out = capsys.readouterr().out
    assert re.search(r"peak memory \d+(\.\d)? (B|KiB|MiB|GiB)\b", out), out
    assert not re.search(r"\d,\d{3} B\b", out), out


def test_runs_shows_whole_run_ids_at_80_columns(workspace, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    ids = ["20261203-150000-a1b2c3", "20261203-150500-d4e5f6"]
    with ModelRegistry(workspace) as registry:
        for run_id in ids:
            registry.create_session(run_id, {"phases": []}, LONG_RECIPE)
            registry.update_session_progress(run_id, "cognate-specialists", 42.0)
    assert commands.runs(workspace) == 0
    out = capsys.readouterr().out
    for run_id in ids:
        assert run_id in out, out


def test_runs_of_finished_runs_fit_80_columns_without_a_current_phase(workspace, monkeypatch,
                                                                       capsys):
    """A finished run has no current phase (it showed "compression 100%"), and its line
    (id, status, phases, start, recipe) fits 80 columns: no cell is wrapped."""
    monkeypatch.setenv("COLUMNS", "80")
    with ModelRegistry(workspace) as registry:
        registry.create_session("20261203-150000-a1b2c3", {"phases": []}, "agent-forge-tiny")
        registry.update_session_progress("20261203-150000-a1b2c3", "compression", 100.0)
        registry.finish_session("20261203-150000-a1b2c3", "completed")
    assert commands.runs(workspace) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if "20261203-150000-a1b2c3" in line)
    assert "agent-forge-tiny" in row and "completed" in row, lines
    assert "compression" not in "\n".join(lines) and "current" not in "\n".join(lines), lines


def test_models_says_where_each_model_lives_and_cuts_nothing(run_apply, workspace, capsys):
    assert run_apply(tk.make_plan(tk.CHAIN[:1])) == 0
    capsys.readouterr()
    assert commands.models(workspace, json=True) == 0
    [model] = json.loads(capsys.readouterr().out)
    path = workspace.resolve() / "artifacts" / model["sha256"]
    assert model["path"] == str(path) and (path / "model.safetensors").is_file()
    assert commands.models(workspace) == 0
    out = capsys.readouterr().out
    assert f"model {model['id']} (run {model['run_id']}): {path}\n" in out  # whole, one line
    assert "…" not in out  # nothing in the table is cut at 80 columns
