"""An apply warns when the forecast, or the time it has run, passes the recipe's budget.time."""

from __future__ import annotations

import dataclasses
import json

import forge_test_kernels as tk

from runtime.budget import TimeBudget, forecast_warning
from runtime.orchestrator import PipelineOrchestrator


def _with_budget(plan, seconds: float):
    return dataclasses.replace(plan, budget={"memory_bytes": None, "seconds": seconds})


def _apply(plan, workspace, kernels) -> tuple[object, list[str], list[dict]]:
    """Run ``plan``: its result, the messages of its warning events, all its events (its
    events log, in order)."""
    with PipelineOrchestrator(plan, workspace, kernels=kernels, output="quiet") as pipeline:
        result = pipeline.run_full_pipeline()
    log = workspace / "runs" / result.run_id / "events.jsonl"
    events = [json.loads(line) for line in log.read_text().splitlines()]
    return result, [e["message"] for e in events if e["event"] == "warning"], events


def test_the_elapsed_time_passing_the_budget_is_said_once(workspace, kernels):
    # each step is estimated at 0.5 s: a 2 s budget holds the forecast; the run takes longer
    plan = _with_budget(tk.make_plan([("a", "train", [], {"steps": 30, "sleep": 0.1}),
                                      ("b", "train", ["a"], {"steps": 20, "sleep": 0.1})]), 2.0)
    result, warnings, _ = _apply(plan, workspace, kernels)
    assert result.status == "completed"  # a warning, never an error
    passed = [w for w in warnings if "past the recipe's budget.time" in w]
    assert len(passed) == 1, warnings
    assert "budget.time of 2.0s" in passed[0]
    assert not [w for w in warnings if "forecast" in w]


def test_a_forecast_over_the_budget_is_said_at_the_start(workspace, kernels):
    plan = _with_budget(tk.make_plan(tk.CHAIN), 1.0)  # three steps of 0.5 s forecast
    result, warnings, events = _apply(plan, workspace, kernels)
    assert result.status == "completed"
    [said] = [w for w in warnings if "forecast" in w]
    assert "the 3 phase(s) to run, 1.5s" in said and "budget.time of 1.0s" in said
    kinds = [(e["event"], e.get("message", "")) for e in events]
    assert kinds.index(("warning", said)) < kinds.index(("phase_started", ""))  # at the start
    # once they are cached, nothing is left to run: the forecast is 0
    result, warnings, _ = _apply(plan, workspace, kernels)
    assert not [w for w in warnings if "forecast" in w]


def test_no_budget_no_warning_and_within_budget_no_warning():
    assert forecast_warning(None, 1e9, 3) is None
    assert forecast_warning(60.0, 59.0, 3) is None
    now = [0.0]
    budget = TimeBudget(60.0, clock=lambda: now[0])
    now[0] = 60.0
    assert budget.passed() is None
    now[0] = 61.0
    assert "has run 1m01s" in budget.passed()
    assert budget.passed() is None  # once
    assert TimeBudget(None, clock=lambda: 1e9, started=0.0).passed() is None
