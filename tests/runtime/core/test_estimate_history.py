"""Forecasts learn from the workspace: after a run, `forge plan` predicts the measured
figures of the same phase (the with-history goal of issue 20), says where its numbers
come from, and ignores history that is not a measurement it can use."""

from __future__ import annotations

import forge_test_kernels as tk
import pytest

from forgelang.history import COST_MODEL, with_forecasts
from forgelang.plan import Plan
from forgelang.plan_schema import PlanSchemaError, validate_plan
from runtime.estimate_history import measured_history
from runtime.orchestrator import PipelineOrchestrator
from runtime.registry import ModelRegistry


def _apply(plan, workspace, kernels):
    with PipelineOrchestrator(plan, workspace, kernels=kernels, output="quiet") as p:
        return p.run_full_pipeline()


def _history(workspace):
    with ModelRegistry(workspace) as reg:
        return measured_history(reg)


def test_after_one_run_the_forecast_is_what_was_measured(workspace, kernels):
    plan = tk.make_plan(tk.CHAIN[:2])
    cold = with_forecasts(plan, [])
    assert all(s.forecast["source"] == COST_MODEL and s.forecast["runs"] == 0
               for s in cold.steps)
    result = _apply(plan, workspace, kernels)
    with ModelRegistry(workspace) as reg:
        measured = {p["name"]: p["measured"] for p in reg.show(result.run_id)["phases"]}
    warm = with_forecasts(plan, _history(workspace))
    for step in warm.steps:
        f = step.forecast
        assert f["runs"] == 1 and f["source"] == "earlier runs of this phase"
        assert f["seconds"] == pytest.approx(measured[step.name]["seconds"], rel=1e-9)
        assert f["peak_memory_bytes"] == pytest.approx(
            measured[step.name]["peak_memory_bytes"], abs=1)
    assert warm.totals()["seconds"] == pytest.approx(
        sum(m["seconds"] for m in measured.values()))


def test_same_phase_beats_same_kind_and_the_range_spans_the_ratios(workspace):
    plan = tk.make_plan(tk.CHAIN[:1])
    step = plan.steps[0]
    est = step.estimate.seconds

    def row(params, ratio):
        return {"kind": step.kind, "params": params, "profile": "None",
                "profile_source": "default",  # the test plan's empty target
                "estimated_seconds": est, "seconds": est * ratio,
                "estimated_memory": None, "memory": None}

    from forgelang.plan import canonical_json
    same, other = canonical_json(step.params), '{"other":1}'
    f = with_forecasts(plan, [row(other, 9.0)]).steps[0].forecast
    assert f["source"] == f"earlier {step.kind} runs" and f["seconds"] == pytest.approx(9 * est)
    f = with_forecasts(plan, [row(other, 9.0), row(same, 2.0), row(same, 8.0)]).steps[0].forecast
    assert f["source"] == "earlier runs of this phase" and f["runs"] == 2
    assert f["seconds"] == pytest.approx(4.0 * est)  # geometric mean of 2 and 8
    assert (f["seconds_low"], f["seconds_high"]) == pytest.approx((2 * est, 8 * est))
    assert "memory_low" not in f and f["peak_memory_bytes"] == step.estimate.peak_memory_bytes


def test_forecasts_round_trip_through_a_saved_plan_and_hostile_ones_are_refused():
    plan = with_forecasts(tk.make_plan(tk.CHAIN[:1]), [])
    data = plan.to_json()
    assert Plan.from_json(validate_plan(data, kinds=None)).steps[0].forecast == \
        plan.steps[0].forecast
    data["phases"][0]["forecast"]["seconds"] = -1.0
    with pytest.raises(PlanSchemaError, match="forecast"):
        validate_plan(data, kinds=None)


def test_history_ignores_rows_that_are_not_measurements(workspace, kernels):
    _apply(tk.make_plan(tk.CHAIN[:1]), workspace, kernels)
    with ModelRegistry(workspace) as reg, reg._write() as c:
        c.execute("UPDATE phase_runs SET estimate = '[1, 2]'")
    assert _history(workspace) == []
