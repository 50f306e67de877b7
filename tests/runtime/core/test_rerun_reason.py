"""``forge plan`` says why a step re-runs: kernel changed, params changed, inputs re-run."""

from __future__ import annotations

from dataclasses import replace

import forge_test_kernels as tk

from forgelang.commands import _with_workspace_state
from forgelang.plan import cache_key
from forgelang.render import render_plan
from runtime.orchestrator import PipelineOrchestrator


def _with_version(plan, name: str, version: str):
    """The plan with step ``name`` made by other kernel code (its key chains downstream)."""
    keys, steps = {}, []
    for s in plan.steps:
        v = version if s.name == name else s.kernel_version
        key = cache_key(s.kind, v, s.params, s.seed, [keys[i] for i in s.inputs])
        keys[s.name] = key
        steps.append(replace(s, kernel_version=v, cache_key=key))
    return replace(plan, steps=tuple(steps))


def test_a_kernel_change_is_named_as_the_reason_and_downstream_follows(workspace, kernels):
    plan = tk.make_plan(tk.CHAIN)
    with PipelineOrchestrator(plan, workspace, kernels=kernels, output="quiet") as p:
        assert p.run_full_pipeline().exit_code == 0
    upgraded = _with_workspace_state(_with_version(plan, "b", "1+0123456789abcdef"), workspace)
    assert [(s.action, s.reason) for s in upgraded.steps] == [
        ("cached", ""), ("rerun", "kernel changed"), ("rerun", "inputs re-run")]
    shown = replace(upgraded, target={"name": "cpu", "peak_flops": 1e9, "efficiency": 1.0,
                                      "memory_bytes": 2**30})
    assert "(kernel changed)" in render_plan(shown)
    assert upgraded.to_json()["phases"][1]["reason"] == "kernel changed"
    edited = tk.make_plan([tk.CHAIN[0], ("b", "train", ["a"], {**tk.CHAIN[1][3], "lr": 0.3}),
                           tk.CHAIN[2]])
    assert [s.reason for s in _with_workspace_state(edited, workspace).steps] == [
        "", "params changed", "inputs re-run"]
    from forgelang.plan import Plan
    from forgelang.plan_schema import validate_plan

    saved = upgraded.to_json()
    loaded = Plan.from_json(validate_plan(saved, kinds=["train", "degrade"]))
    assert [s.reason for s in loaded.steps] == ["", "kernel changed", "inputs re-run"]


def test_a_damaged_workspace_leaves_the_plan_unmarked_with_a_warning(workspace, kernels, capsys):
    import sqlite3

    plan = tk.make_plan(tk.CHAIN)
    with PipelineOrchestrator(plan, workspace, kernels=kernels, output="quiet") as p:
        assert p.run_full_pipeline().exit_code == 0
    with sqlite3.connect(workspace / "registry.db") as db:
        db.execute("UPDATE runs SET config = '{\"phases\": 5}'")
    assert [s.reason for s in _with_workspace_state(_with_version(plan, "a", "2"),
                                                    workspace).steps] == ["", "", ""]
    (workspace / "registry.db").write_bytes(b"not a database" * 100)
    for name in ("registry.db-wal", "registry.db-shm"):
        (workspace / name).unlink(missing_ok=True)
    capsys.readouterr()
    unmarked = _with_workspace_state(plan, workspace)
    assert [(s.action, s.reason) for s in unmarked.steps] == \
        [(s.action, s.reason) for s in plan.steps]
    assert {s.forecast["source"] for s in unmarked.steps} == {"from the cost model, no history"}
    assert "warning: the plan ignores the workspace" in capsys.readouterr().err
