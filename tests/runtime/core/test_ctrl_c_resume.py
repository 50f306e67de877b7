"""Ctrl-C during a real ``forge apply``: the stage checkpoints, the run ends interrupted
(said once), and the next apply resumes mid-stage to the uninterrupted run's bytes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import forge_test_kernels as tk

from runtime.kernels import ModelOutput, PhaseResult, StopRequested
from runtime.orchestrator import PipelineOrchestrator
from runtime.plan_loading import load_plan
from runtime.registry import ModelRegistry
from tests.subprocess_env import ROOT, repo_pythonpath

RECIPE = ROOT / "recipes" / "smoke.forge"
# the smoke recipe's cognate phase, small: seconds a run, pre-training long enough to catch
SETS = ("cognate.pretrain_steps=60", "cognate.steps=2", "cognate.merge_check=false",
        "cognate.batch_size=4", "cognate.eval.examples=4",
        "cognate.eval.max_new_tokens=2")


def _saved_plan(folder: Path) -> Path:
    """The recipe's plan, saved: every apply below runs exactly it (the same cache keys,
    even while the code is being edited around the test)."""
    path = folder / "plan.json"
    path.write_text(json.dumps(load_plan(RECIPE, SETS, None).to_json()))
    return path


def _interrupt(plan: Path, workspace: Path) -> tuple[int, str, str]:
    """``forge apply`` on a pipe; Ctrl-C once a progress line shows pre-training at step
    5 or later."""
    env = {**os.environ, "PYTHONPATH": repo_pythonpath(), "FORGE_THREADS": "1",
           "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled", "PYTHONUNBUFFERED": "1",
           "FORGE_PROGRESS_INTERVAL": "0.2", "FORGE_CHECKPOINT_INTERVAL": "300"}
    proc = subprocess.Popen([sys.executable, "-m", "forgelang.cli", "apply", str(plan),
                             "--only", "cognate", "--workspace", str(workspace)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        step = re.search(r"pretrain step (\d+)/60", line)
        if step and int(step.group(1)) >= 5:
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=600)
    return proc.returncode, "".join(seen) + out, err


def _apply_here(plan: Path, workspace: Path) -> tuple[list[str], list[dict]]:
    """The same apply in this process: its cognate models' sha256 and its events."""
    with PipelineOrchestrator(plan, workspace, only=("cognate",), output="quiet") as pipeline:
        result = pipeline.run_full_pipeline()
    assert result.status == "completed", result.message
    log = workspace / "runs" / result.run_id / "events.jsonl"
    events = [json.loads(line) for line in log.read_text().splitlines()]
    return [m["sha256"] for m in result.phases[0].models], events


def test_ctrl_c_checkpoints_and_the_next_apply_resumes_mid_stage(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    plan, workspace = _saved_plan(tmp_path), tmp_path / "interrupted"
    code, out, err = _interrupt(plan, workspace)
    assert code == 130, out[-2000:] + err[-2000:]
    said = " ".join((out + err).split())
    assert said.count("Resume with the same command") == 1, said  # the message once
    assert said.count("stopping (Ctrl-C)") == 1, said  # the first Ctrl-C says what it does
    assert "Traceback" not in said
    partial = list((workspace / "checkpoints").glob("*/pretrain.partial.json"))
    assert len(partial) == 1, "Ctrl-C saved the stage's state"
    models, events = _apply_here(plan, workspace)
    first = next(e for e in events if e["event"] == "phase_progress")
    resumed = re.fullmatch(r"pretrain resumed at step (\d+)/60", first["message"])
    assert resumed and int(resumed.group(1)) >= 5, first  # its finished steps are not redone
    expected, _ = _apply_here(plan, tmp_path / "straight")
    assert models == expected  # the same bytes as an uninterrupted run


class CtrlCKernel:
    """Presses Ctrl-C on itself mid-phase; stops when ``honour`` says so, else finishes."""

    def run(self, ctx, params, inputs):
        os.kill(os.getpid(), signal.SIGINT)
        ctx.stop_event.wait(5)  # Python runs the handler at once, in this (main) thread
        if params.get("honour") and ctx.should_stop():
            raise StopRequested("stopped at a safe point")
        out = tk.save_dir(tk._mlp(), ctx.work_dir / "model")
        return PhaseResult([ModelOutput(role="made", path=out, metrics={"accuracy": 0.5})])


def _apply_in_process(plan, workspace, kernels) -> tuple[object, list[str]]:
    """The run's result and the status of each phase it started (from the registry)."""
    kernels.register("ctrl_c", CtrlCKernel)
    with PipelineOrchestrator(plan, workspace, kernels=kernels, output="quiet") as pipeline:
        result = pipeline.run_full_pipeline()
    with ModelRegistry(workspace) as registry:
        return result, [p["status"] for p in registry.show(result.run_id)["phases"]]


def test_the_first_ctrl_c_asks_the_kernel_to_stop(workspace, kernels, capfd):
    plan = tk.make_plan([("a", "train", [], {}), ("i", "ctrl_c", ["a"], {"honour": True}),
                         ("b", "train", ["i"], {})])
    result, statuses = _apply_in_process(plan, workspace, kernels)
    assert (result.status, result.exit_code) == ("interrupted", 130)
    assert statuses[:2] == ["completed", "interrupted"] and "completed" not in statuses[2:]
    log = workspace / "runs" / result.run_id / "events.jsonl"
    [failed] = [e for e in map(json.loads, log.read_text().splitlines())
                if e["event"] == "phase_failed"]
    assert failed["error"] == "stopped by the user: stopped at a safe point"  # where it stopped
    assert "stopping (Ctrl-C): the phase saves a checkpoint" in capfd.readouterr().err


def test_a_kernel_that_ignores_the_stop_finishes_and_the_run_stops_before_the_next(
        workspace, kernels):
    plan = tk.make_plan([("i", "ctrl_c", [], {}), ("b", "train", ["i"], {})])
    before = signal.getsignal(signal.SIGINT)
    result, statuses = _apply_in_process(plan, workspace, kernels)
    assert (result.status, result.exit_code) == ("interrupted", 130)
    assert statuses[0] == "completed" and "completed" not in statuses[1:]  # b never ran
    assert "Resume with the same command" in result.message
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C works as before after the run
