"""Gates: evaluated after their phase on measured metrics; stop and warn actions."""

from __future__ import annotations

import forge_test_kernels as tk
import pytest

from forgelang.plan import GateSpec
from runtime.gates import evaluate_gate, parse_condition
from runtime.orchestrator import PipelineOrchestrator
from runtime.registry import ModelRegistry

NOISY = [tk.CHAIN[0], ("c", "degrade", ["a"], {"noise": 1.5}), ("d", "train", ["c"], {})]


def _apply(plan, workspace, kernels):
    with PipelineOrchestrator(plan, workspace, kernels=kernels, output="quiet") as p:
        return p.run_full_pipeline()


def test_value_and_threshold_are_split():
    v = evaluate_gate(GateSpec("p", "retention >= 0.95"), {"retention": 0.9})
    assert (v.value, v.threshold, v.passed) == (0.9, 0.95, False)
    v = evaluate_gate(GateSpec("p", "0.5 < accuracy and retention > 0.1"),
                      {"accuracy": 0.6, "retention": 0.2})
    assert v.passed and v.value is None
    v = evaluate_gate(GateSpec("p", "retention >= 0.95"), {"accuracy": 1.0})
    assert not v.passed and "retention" in v.message and "accuracy" in v.message
    assert parse_condition("a >= 1").op == ">="


def test_stop_gate_fails_the_run_naming_gate_value_threshold(workspace, kernels):
    gate = GateSpec("c", "retention >= 0.95", "stop")
    res = _apply(tk.make_plan(NOISY, gates=(gate,)), workspace, kernels)
    assert res.exit_code == 1 and res.status == "failed"
    verdict = res.gates[0]
    assert not verdict.passed and verdict.threshold == 0.95
    acc_a = res.phases[0].models[0]["metrics"]["accuracy"]
    acc_c = res.phases[1].models[0]["metrics"]["accuracy"]
    assert acc_c < acc_a  # the noise really hurt the measured score
    assert verdict.value == pytest.approx(acc_c / acc_a)
    assert "retention >= 0.95" in res.message and f"{verdict.value:.6g}" in res.message
    assert "0.95" in res.message
    assert [p.name for p in res.phases] == ["a", "c"]  # d never ran
    with ModelRegistry(workspace) as reg:
        shown = reg.show(res.run_id)
    assert shown["status"] == "failed"
    assert shown["gates"][0]["passed"] is False and shown["gates"][0]["value"] == verdict.value


def test_warn_gate_and_passing_gate_let_the_run_finish(workspace, kernels):
    gates = (GateSpec("a", "accuracy >= 0.8", "stop"), GateSpec("c", "retention >= 0.95", "warn"),
             GateSpec("d", "cumulative_retention > 0", "stop"))
    res = _apply(tk.make_plan(NOISY, gates=gates), workspace, kernels)
    assert res.exit_code == 0 and res.status == "completed"
    assert [g.passed for g in res.gates] == [True, False, True]
    d = res.phases[2].models[0]["metrics"]
    c = res.phases[1].models[0]["metrics"]
    assert d["cumulative_retention"] == pytest.approx(c["retention"] * d["retention"])


def test_undefined_retention_says_why_and_near_misses_get_a_hint():
    from forgelang.plan import GateSpec
    from runtime.gates import evaluate_gate

    measured = {"accuracy": 0.0, "input_accuracy": 0.0, **{f"m{i}": 1.0 for i in range(40)}}
    verdict = evaluate_gate(GateSpec("bitnet", "retention >= 0.8", "warn"), measured)
    assert not verdict.passed and "input scored 0" in verdict.message
    assert "m39" not in verdict.message  # not a list of every measured name
    verdict = evaluate_gate(GateSpec("bitnet", "acuracy >= 0.8", "warn"), measured)
    assert not verdict.passed and "did you mean `accuracy`?" in verdict.message
    verdict = evaluate_gate(GateSpec("bitnet", "zzz >= 0.8", "warn"), measured)
    assert "and 30 more" in verdict.message
