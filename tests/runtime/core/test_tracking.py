"""W&B tracking: offline files in the workspace; failures never break an apply; W&B runs
in a child process, so the apply itself never imports wandb (issue 21: its import and
``wandb.init`` were most of the fixed cost of a one-merge apply)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import forge_test_kernels as tk

from runtime import tracking
from runtime.orchestrator import PipelineOrchestrator
from runtime.tracking import Tracker

# A stand-in for wandb that notes every call in $FAKE_WANDB_LOG; FAKE_WANDB_FAIL makes
# init raise, FAKE_WANDB_GATE makes it wait (at most 60 s) until that file exists.
FAKE_WANDB = '''
import json, os, time
def _note(**kw):
    with open(os.environ["FAKE_WANDB_LOG"], "a") as f:
        f.write(json.dumps(kw) + "\\n")
class Settings:
    def __init__(self, **kw):
        self.kw = kw
class _Run:
    def log(self, data):
        _note(call="log", data=data)
    def finish(self, exit_code=0):
        _note(call="finish", exit_code=exit_code)
def init(**kw):
    if os.environ.get("FAKE_WANDB_FAIL"):
        raise RuntimeError("no wandb today")
    gate = os.environ.get("FAKE_WANDB_GATE")
    for _ in range(600):
        if not gate or os.path.exists(gate):
            break
        time.sleep(0.1)
    _note(call="init", id=kw["id"], mode=kw["mode"], dir=kw["dir"], pid=os.getpid())
    return _Run()
'''


def fake_wandb(root: Path, monkeypatch) -> Path:
    """Put the stand-in wandb first on sys.path (the W&B child process gets the apply's
    sys.path); returns the file its calls are noted in."""
    (root / "fake" / "wandb").mkdir(parents=True)
    (root / "fake" / "wandb" / "__init__.py").write_text(FAKE_WANDB)
    monkeypatch.syspath_prepend(str(root / "fake"))
    monkeypatch.setenv("FAKE_WANDB_LOG", str(root / "calls.jsonl"))
    return root / "calls.jsonl"


def calls(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_offline_wandb_files_are_written(workspace, kernels):
    plan = tk.make_plan(tk.CHAIN[:1], tracking={"wandb": "offline", "project": "forge-test"})
    with PipelineOrchestrator(plan, workspace, kernels=kernels, output="quiet") as p:
        res = p.run_full_pipeline()
    assert res.exit_code == 0
    wandb_dir = workspace / "runs" / res.run_id / "wandb"
    files = list(wandb_dir.glob("offline-run-*/run-*.wandb"))
    assert files and files[0].stat().st_size > 0


def test_broken_wandb_warns_and_the_apply_goes_on(tmp_path, monkeypatch):
    fake_wandb(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_WANDB_FAIL", "1")
    warnings = []
    tracker = Tracker({"wandb": "offline"}, tmp_path / "run", warnings.append)
    tracker.start("r1", {})
    tracker.log("a", {"loss": 1.0})
    tracker.finish()
    assert not tracker.active
    assert len(warnings) == 1 and "no wandb today" in warnings[0], warnings
    assert Tracker({"wandb": "disabled"}, tmp_path, warnings.append).mode == "disabled"


def test_an_apply_inits_wandb_once_in_a_child_process(workspace, kernels, tmp_path,
                                                      monkeypatch):
    log = fake_wandb(tmp_path, monkeypatch)
    monkeypatch.setitem(sys.modules, "wandb", None)  # importing it here would fail
    plan = tk.make_plan(tk.CHAIN[:2], tracking={"wandb": "offline"})
    with PipelineOrchestrator(plan, workspace, kernels=kernels, output="quiet") as p:
        res = p.run_full_pipeline()
    assert res.exit_code == 0
    events = [json.loads(line) for line in
              (workspace / "runs" / res.run_id / "events.jsonl").read_text().splitlines()]
    assert not [e for e in events if e["event"] == "warning"]
    noted = calls(log)
    inits = [c for c in noted if c["call"] == "init"]
    assert len(inits) == 1 and inits[0]["id"] == res.run_id and inits[0]["mode"] == "offline"
    assert inits[0]["pid"] != os.getpid()
    logged = {k for c in noted if c["call"] == "log" for k in c["data"]}
    assert {"a/seconds", "b/seconds"} <= logged, sorted(logged)
    assert [c["call"] for c in noted][-1] == "finish" and noted[-1]["exit_code"] == 0


def test_a_slow_wandb_never_holds_the_apply_up(tmp_path, monkeypatch):
    """While init waits, 3000 metrics (more than a pipe holds) are taken at once; all
    arrive, in order, once it is done."""
    log = fake_wandb(tmp_path, monkeypatch)
    gate = tmp_path / "gate"
    monkeypatch.setenv("FAKE_WANDB_GATE", str(gate))
    warnings = []
    tracker = Tracker({"wandb": "offline"}, tmp_path / "run", warnings.append)
    tracker.start("r1", {"plan": "x" * 100})
    start = time.monotonic()
    for step in range(3000):
        tracker.log("train", {"loss": 1.0 / (step + 1), "note": "y" * 40}, step)
    took = time.monotonic() - start
    gate.touch()
    tracker.finish(exit_code=130)
    assert took < 30, f"logging waited for W&B ({took:.1f} s)"
    steps = [c["data"]["train/step"] for c in calls(log) if c["call"] == "log"]
    assert steps == list(range(3000)) and not warnings
    assert calls(log)[-1] == {"call": "finish", "exit_code": 130}


def test_wandb_mode_disabled_in_the_environment_wins(tmp_path, monkeypatch):
    log = fake_wandb(tmp_path, monkeypatch)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    tracker = Tracker({"wandb": "offline"}, tmp_path / "run", print)
    tracker.start("r1", {})
    tracker.log("a", {"loss": 1.0})
    tracker.finish()
    assert tracker.mode == "disabled" and not calls(log) and not (tmp_path / "run").exists()


def test_a_prestarted_child_becomes_the_run(tmp_path, monkeypatch):
    log = fake_wandb(tmp_path, monkeypatch)
    tracking.prestart()
    spare = tracking._spare
    assert spare is not None and spare.poll() is None
    tracker = Tracker({"wandb": "offline"}, tmp_path / "run", print)
    tracker.start("r1", {})
    tracker.finish()
    assert tracking._spare is None
    assert [c["pid"] for c in calls(log) if c["call"] == "init"] == [spare.pid]


def test_a_prestarted_child_is_stopped_when_tracking_is_disabled(tmp_path, monkeypatch):
    fake_wandb(tmp_path, monkeypatch)
    tracking.prestart()
    spare = tracking._spare
    Tracker({"wandb": "disabled"}, tmp_path / "run", print).start("r1", {})
    assert tracking._spare is None and spare.poll() is not None


PRESTART_ORDER = """
import sys
import runtime.tracking as tracking
def noted(*args):
    print("torch loaded" if "torch" in sys.modules else "torch not loaded", flush=True)
    raise SystemExit(0)
tracking.prestart = noted
from runtime import commands
commands.apply(sys.argv[1], sys.argv[2])
"""


def test_forge_apply_starts_wandb_before_it_loads_torch(tmp_path):
    recipe = tmp_path / "r.forge"
    recipe.write_text("forge 1\n")
    done = subprocess.run([sys.executable, "-c", PRESTART_ORDER, str(recipe),
                           str(tmp_path / "ws")], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "torch not loaded", done.stderr[-2000:]


def test_no_child_is_prestarted_for_a_recipe_that_disables_tracking(tmp_path):
    recipe = tmp_path / "r.forge"
    recipe.write_text('recipe "r" {\n  tracking { wandb = disabled }\n}\n')
    tracking.prestart(recipe)
    tracking.prestart(tmp_path / "other.forge", ["tracking.wandb=disabled"])
    plan = tk.make_plan(tk.CHAIN[:1], tracking={"wandb": "disabled"})
    tracking.prestart(plan)
    tracking.prestart(plan.to_json())
    assert tracking._spare is None


def test_stray_json_on_the_childs_stdout_is_not_a_report(tmp_path):
    """wandb's own prints share the child's stdout; a line like ``1`` is valid JSON."""
    import io

    warnings = []
    tracker = Tracker({"wandb": "offline"}, tmp_path / "run", warnings.append)
    tracker._read(io.BytesIO(b'1\n"x"\n[2]\nnot json\n{"event": "warning", "message": "m"}\n'))
    tracker._read_reports(closing=True)
    assert warnings[0] == "m" and len(warnings) == 2, warnings


def test_a_numpy_metric_is_logged_as_a_float(tmp_path, monkeypatch):
    import numpy as np

    log = fake_wandb(tmp_path, monkeypatch)
    tracker = Tracker({"wandb": "offline"}, tmp_path / "run", print)
    tracker.start("r1", {})
    tracker.log("a", {"loss": np.float32(0.5)})
    tracker.finish()
    assert [c["data"] for c in calls(log) if c["call"] == "log"] == [{"a/loss": 0.5}]
