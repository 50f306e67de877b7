"""The orchestrator: cache hits and misses, selection, refusal, failure, interrupt, show."""

from __future__ import annotations

import json

import forge_test_kernels as tk
import pytest

from runtime import commands
from runtime.artifacts import ArtifactStore
from runtime.kernels import KernelRegistry
from runtime.orchestrator import PipelineOrchestrator
from runtime.registry import ModelRegistry


def _apply(plan, workspace, kernels, **kw):
    with PipelineOrchestrator(plan, workspace, kernels=kernels, output="quiet", **kw) as p:
        return p.run_full_pipeline()


def _shas(result) -> dict[str, str]:
    return {ph.name: ph.models[0]["sha256"] for ph in result.phases}


def test_cache_hit_then_param_change_reruns_downstream(workspace, kernels):
    plan = tk.make_plan(tk.CHAIN)
    first = _apply(plan, workspace, kernels)
    assert first.exit_code == 0 and [p.status for p in first.phases] == ["completed"] * 3
    calls = dict(tk.CALLS)
    second = _apply(plan, workspace, kernels)
    assert [p.status for p in second.phases] == ["cached"] * 3
    assert tk.CALLS == calls  # no kernel ran
    assert _shas(second) == _shas(first)
    changed = [tk.CHAIN[0], ("b", "train", ["a"], {**tk.CHAIN[1][3], "lr": 0.3}), tk.CHAIN[2]]
    third = _apply(tk.make_plan(changed), workspace, kernels)
    assert [p.status for p in third.phases] == ["cached", "completed", "completed"]
    assert _shas(third)["b"] != _shas(first)["b"]
    with ModelRegistry(workspace) as reg:
        assert reg.integrity_check() == "ok"
        c = reg.lineage(_shas(third)["c"])
    assert [c["phase"], c["parents"][0]["phase"], c["parents"][0]["parents"][0]["phase"]] == \
        ["c", "b", "a"]


def test_measured_figures_and_retention_are_recorded(workspace, kernels):
    plan = tk.make_plan(tk.CHAIN[:2])
    result = _apply(plan, workspace, kernels)
    with ModelRegistry(workspace) as reg:
        shown = reg.show(result.run_id)
    a, b = shown["phases"]
    assert a["measured"]["seconds"] > 0 and a["measured"]["peak_memory_bytes"] >= 0
    assert a["estimate"]["seconds"] == 0.5
    acc_a, acc_b = a["models"][0]["metrics"]["accuracy"], b["models"][0]["metrics"]["accuracy"]
    assert acc_a > 0.8  # the MLP really learned the held-out task
    assert b["models"][0]["metrics"]["retention"] == pytest.approx(acc_b / acc_a)
    assert b["models"][0]["parents"] == [a["models"][0]["id"]]
    assert "loss" in a["metrics"] and a["models"][0]["params"] == 8 * 16 + 16 + 16 * 2 + 2


def test_only_from_force(workspace, kernels):
    plan = tk.make_plan(tk.CHAIN)
    assert _apply(plan, workspace, kernels, only=["a"]).phases[0].status == "completed"
    res = _apply(plan, workspace, kernels, only=["b,c"])
    assert [(p.name, p.status) for p in res.phases] == [("b", "completed"), ("c", "completed")]
    res = _apply(plan, workspace, kernels, force=["b"])
    assert [p.status for p in res.phases] == ["cached", "completed", "completed"]
    res = _apply(plan, workspace, kernels, from_="c")
    assert [(p.name, p.status) for p in res.phases] == [("c", "completed")]
    bad = _apply(plan, workspace, kernels, only=["bb"])
    assert bad.status == "refused" and "did you mean `b`" in bad.message


def test_only_refuses_when_inputs_never_ran(workspace, kernels):
    res = _apply(tk.make_plan(tk.CHAIN), workspace, kernels, only=["c"])
    assert res.exit_code == 2 and "needs the models of `b`" in res.message


def test_missing_kernel_stops_before_anything_runs(workspace, kernels):
    plan = tk.make_plan([("a", "train", [], {}), ("m", "evomerge", ["a"], {}),
                         ("q", "quietstar", ["m"], {})])
    res = _apply(plan, workspace, kernels)
    assert res.exit_code == 2 and res.status == "refused"
    assert "evomerge, quietstar" in res.message and "train" in res.message
    with ModelRegistry(workspace) as reg:
        assert reg.runs() == [] and reg.completed_cache_keys() == {}  # nothing ran


def test_missing_kernel_via_cli_names_the_kind(workspace, tmp_path, capsys):
    plan = tk.make_plan([("x", "no_such_kind", [], {})])
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan.to_json()))
    assert commands.apply(str(path), workspace) == 2
    assert "no_such_kind" in capsys.readouterr().err


def test_corrupt_artifact_is_detected_and_rebuilt(workspace, kernels):
    plan = tk.make_plan(tk.CHAIN[:2])
    first = _apply(plan, workspace, kernels)
    sha = _shas(first)["a"]
    weights = ArtifactStore(workspace).path(sha) / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    again = _apply(plan, workspace, kernels)
    assert [p.status for p in again.phases] == ["completed", "cached"]
    assert _shas(again)["a"] == sha  # rebuilt bit-identically (same seed)
    ArtifactStore(workspace).verify(sha)
    with ModelRegistry(workspace) as reg:
        kinds = [r["type"] for r in reg._read("SELECT type FROM events WHERE run_id = ?",
                                              (again.run_id,))]
    assert "warning" in kinds


def test_kernel_failure_and_ctrl_c(workspace, kernels, capsys):
    plan = tk.make_plan([("a", "train", [], {}), ("f", "fail", ["a"], {}),
                         ("z", "train", ["f"], {})])
    res = _apply(plan, workspace, kernels)
    assert res.exit_code == 1 and "always fails" in res.message
    assert [p.name for p in res.phases] == ["a", "f"]
    plan = tk.make_plan([("a", "train", [], {}), ("i", "interrupt", ["a"], {})])
    res = _apply(plan, workspace, kernels)
    assert res.exit_code == 130 and res.status == "interrupted"
    assert "forge apply" in res.message
    with ModelRegistry(workspace) as reg:
        shown = reg.show(res.run_id)
    assert shown["status"] == "interrupted"
    assert [p["status"] for p in shown["phases"]] == ["cached", "interrupted"]


def test_show_json_shape(workspace, kernels, capsys):
    _apply(tk.make_plan(tk.CHAIN[:1]), workspace, kernels)
    capsys.readouterr()
    assert commands.show(workspace, json=True) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"run_id", "status", "phases", "gates"} <= set(data)
    phase = data["phases"][0]
    assert {"name", "kind", "status", "cache_key", "estimate", "measured", "metrics",
            "models"} <= set(phase)
    assert set(phase["measured"]) == {"peak_memory_bytes", "seconds"}
    assert {"id", "role", "sha256", "params", "metrics"} <= set(phase["models"][0])
    for command in (commands.runs, commands.models):
        assert command(workspace, json=True) == 0
        assert json.loads(capsys.readouterr().out)
    model_id = str(phase["models"][0]["id"])
    assert commands.lineage(workspace, model_id, json=True) == 0
    assert json.loads(capsys.readouterr().out)["id"] == int(model_id)
    assert commands.show(workspace) == 0  # the human table renders
    assert "a" in capsys.readouterr().out


def test_stale_saved_plan_is_refused(workspace, kernels):
    plan = tk.make_plan(tk.CHAIN[:1])
    with ModelRegistry(workspace) as reg:
        stale = plan.with_actions({}, reg.fingerprint())
    _apply(plan, workspace, kernels)  # the workspace changes after the plan was made
    res = _apply(stale, workspace, kernels)
    assert res.exit_code == 2 and "stale" in res.message


def test_kernel_registry_did_you_mean():
    reg = KernelRegistry()
    reg.register("cognate", tk.TrainKernel)
    with pytest.raises(LookupError, match="did you mean `cognate`"):
        reg.get("cognat")
    with pytest.raises(ValueError, match="twice"):
        reg.register("cognate", tk.TrainKernel)
    assert reg.names() == ["cognate"]
