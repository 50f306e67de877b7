"""kill -9 at several moments, then resume: same final artifacts as an uninterrupted run.

Also a reader process (this test process) polls the registry during an apply and must
never block for long nor see a completed phase without its models.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import forge_test_kernels as tk
import pytest

from runtime.registry import ModelRegistry

SCRIPT = Path(__file__).parent / "apply_script.py"
POLL_S = 0.05  # between the reference run's registry reads
SLOW_CHAIN = [("a", "train", [], {"steps": 30, "sleep": 0.01, "ckpt_every": 5}),
              # progress reaches us at most every 0.5 s: b runs long enough to be caught
              ("b", "train", ["a"], {"steps": 30, "sleep": 0.04, "ckpt_every": 5,
                                     "role": "tuned"}),
              ("c", "degrade", ["b"], {"noise": 0.05})]


def _plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(tk.make_plan(SLOW_CHAIN).to_json()))
    return path


def _start(plan: Path, workspace: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), str(plan), str(workspace)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _final_shas(workspace: Path) -> dict[str, str]:
    with ModelRegistry(workspace, create=False) as reg:
        assert reg.integrity_check() == "ok"
        shown = reg.show()
    assert shown["status"] == "completed"
    return {p["name"]: p["models"][0]["sha256"] for p in shown["phases"]}


def _kill_at(plan: Path, workspace: Path, event: str, phase: str, after: float) -> None:
    proc = _start(plan, workspace)
    for line in proc.stdout:
        e = json.loads(line)
        if e["event"] == event and e["phase"] == phase and e.get("fraction", 1.0) >= after:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()


def _reference(tmp_path: Path, plan: Path) -> dict[str, str]:
    """An uninterrupted run, read concurrently by this process."""
    workspace = tmp_path / "reference"
    proc = _start(plan, workspace)
    reads, slowest = 0, 0.0
    while proc.poll() is None:
        if not (workspace / "registry.db").exists():
            time.sleep(0.01)
            continue
        t0 = time.perf_counter()
        with ModelRegistry(workspace, create=False) as reg:
            for run in reg.runs():
                for phase in reg.show(run["id"])["phases"]:
                    if phase["status"] == "completed":  # never half written
                        assert phase["models"] and phase["measured"]["seconds"] is not None
        slowest = max(slowest, time.perf_counter() - t0)
        reads += 1
        time.sleep(POLL_S)  # a reader that never rests would take a core from the apply
    assert proc.returncode == 0, proc.stderr.read()
    assert reads > 5 and slowest < 2.0  # reading never waited on the writer
    return _final_shas(workspace)


@pytest.mark.parametrize("points", [
    [("phase_progress", "b", 0.5)],  # inside a phase, after an in-phase checkpoint
    pytest.param([("phase_started", "a", 0.0), ("phase_finished", "a", 1.0),
                  ("phase_progress", "b", 0.2), ("phase_started", "c", 0.0)],
                 marks=pytest.mark.slow),
])
def test_kill9_then_resume_is_bit_identical(tmp_path, points):
    plan = _plan_file(tmp_path)
    expected = _reference(tmp_path, plan)
    workspace = tmp_path / "killed"
    for event, phase, after in points:
        _kill_at(plan, workspace, event, phase, after)
        with ModelRegistry(workspace, create=False) as reg:
            assert reg.integrity_check() == "ok"
    proc = _start(plan, workspace)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert any(e["event"] == "phase_cached" and e["phase"] == "a" for e in events)
    if points[-1][:2] == ("phase_progress", "b"):  # b resumed from its in-phase checkpoint
        first = next(e for e in events if e["event"] == "phase_progress" and e["phase"] == "b")
        assert first["fraction"] > 10 / 30
    assert not list((workspace / "artifacts").glob(".tmp-*"))
    assert _final_shas(workspace) == expected
    with ModelRegistry(workspace, create=False) as reg:
        statuses = {r["status"] for r in reg.runs()}
    assert "running" not in statuses and "interrupted" in statuses
