"""W&B tracking: offline files in the workspace; failures never break an apply."""

from __future__ import annotations

import forge_test_kernels as tk

from runtime.orchestrator import PipelineOrchestrator
from runtime.tracking import Tracker


def test_offline_wandb_files_are_written(workspace, kernels):
    plan = tk.make_plan(tk.CHAIN[:1], tracking={"wandb": "offline", "project": "forge-test"})
    with PipelineOrchestrator(plan, workspace, kernels=kernels, output="quiet") as p:
        res = p.run_full_pipeline()
    assert res.exit_code == 0
    wandb_dir = workspace / "runs" / res.run_id / "wandb"
    files = list(wandb_dir.glob("offline-run-*/run-*.wandb"))
    assert files and files[0].stat().st_size > 0


def test_broken_wandb_warns_and_the_apply_goes_on(tmp_path, monkeypatch):
    import wandb

    def boom(*a, **k):
        raise RuntimeError("no wandb today")

    monkeypatch.setattr(wandb, "init", boom)
    warnings = []
    tracker = Tracker({"wandb": "offline"}, tmp_path, warnings.append)
    tracker.start("r1", {})
    tracker.log("a", {"loss": 1.0})
    tracker.finish()
    assert not tracker.active and "no wandb today" in warnings[0]
    assert Tracker({"wandb": "disabled"}, tmp_path, warnings.append).mode == "disabled"
