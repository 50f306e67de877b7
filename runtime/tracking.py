"""Weights & Biases tracking: the registry's metrics, mirrored, offline by default.

``plan.tracking = {"wandb": "offline" | "online" | "disabled", "project": NAME}``.
Offline runs write their files to ``WORKSPACE/runs/<run>/wandb`` and need no network.
Metric names are namespaced ``<phase>/<name>``; the resolved plan is the run config.
W&B missing or failing never breaks an apply: the tracker turns itself off with a
warning, and the registry still has every metric. ``WANDB_MODE=disabled`` in the
environment turns tracking off whatever the plan says, as it does for any W&B program.

W&B runs in a child process (``runtime.tracking_worker``): importing wandb and
``wandb.init`` take seconds of CPU, which then overlap the apply's own work instead of
adding to it, and the apply process never imports wandb. ``prestart`` starts that child
before the apply imports torch and compiles its plan (``forge apply`` calls it first), so
the import of wandb overlaps those too; ``Tracker.start`` takes it over (or starts one).
Metrics go to the child through a pipe, written by a thread, so a slow W&B never holds
the apply up; ``finish`` waits for the child to close the run. Its system metrics follow
the apply's process tree; its stderr goes to ``runs/<run>/wandb-worker.log``.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

MODES = ("offline", "online", "disabled")
DEFAULT_PROJECT = "agent-forge"
WORKER = Path(__file__).with_name("tracking_worker.py")
WORKER_LOG = "wandb-worker.log"  # the child's stderr, in the run directory
FINISH_TIMEOUT_S = 300.0  # closing an offline run takes well under a second
# runs the worker file with the apply's sys.path, without importing ``runtime``; runpy is
# imported after the path is set, so a runpy.py in the current directory ('' comes first
# on a ``-c`` child's path) is not it
_LAUNCH = ("import sys; path = sys.argv[1]; sys.path[:] = sys.argv[2:]; import runpy; "
           "runpy.run_path(path, run_name='__main__')")
_spare: subprocess.Popen | None = None  # started by ``prestart``, not yet a run's


def _spawn() -> subprocess.Popen:
    """A W&B child process; it imports wandb at once, then waits for its run."""
    env = {**os.environ}
    env.setdefault("WANDB_SILENT", "true")
    return subprocess.Popen([sys.executable, "-c", _LAUNCH, str(WORKER), *sys.path],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)  # a terminal's Ctrl-C is the apply's


def prestart(target=None, overrides=()) -> None:
    """Start the W&B child process now, before the run is known, so that importing wandb
    overlaps the apply's own start. Not when ``WANDB_MODE=disabled``, nor when the recipe
    or saved plan ``target`` (or an override) plainly disables tracking. Unused (the plan
    disables tracking after all), it is stopped (``discard_spare``), or it exits when this
    process ends and its stdin closes."""
    global _spare
    if _spare is not None or os.environ.get("WANDB_MODE") == "disabled" or \
            _plainly_disabled(target, overrides):
        return
    try:
        _spare = _spawn()
    except OSError:
        _spare = None  # Tracker.start tries again and says why


_DISABLED = re.compile(r"""wandb["']?\s*[=:]\s*["']?disabled""")


def _plainly_disabled(target, overrides) -> bool:
    """Whether the text of ``target`` (its first MiB) or an override sets ``wandb`` to
    ``disabled``. Only a guess to save a wasted child: the compiled plan decides."""
    if any(_DISABLED.search(str(o)) for o in overrides):
        return True
    if not isinstance(target, (str, os.PathLike)):  # None, or a Plan (or its dict) in Python
        tracking = target.get("tracking") if isinstance(target, dict) else \
            getattr(target, "tracking", None)
        return isinstance(tracking, dict) and tracking.get("wandb") == "disabled"
    from forgelang.files import read_regular

    try:  # never a FIFO or a device: the compiler refuses them, this must not block first
        text = read_regular(target, 1 << 20).decode("utf-8", errors="replace")
    except OSError:  # missing, not a regular file, or over 1 MiB: let the compiler say
        return False
    return _DISABLED.search(text) is not None


def discard_spare() -> None:
    """Stop the ``prestart`` child (it has no run yet, so nothing of W&B's is lost)."""
    global _spare
    child, _spare = _spare, None
    if child is not None:
        child.kill()
        child.wait()
        for pipe in (child.stdin, child.stdout):
            pipe.close()


def _take_spare() -> subprocess.Popen | None:
    global _spare
    child, _spare = _spare, None
    return child if child is not None and child.poll() is None else None


class Tracker:
    """One W&B run per apply, in a child process; every method is a no-op once disabled.

    Args:
        tracking: the plan's tracking block.
        run_dir: ``WORKSPACE/runs/<run>``; offline files go to ``run_dir/wandb``.
        warn: called with a message when W&B is missing or fails (always from the
            thread that calls ``start``, ``log`` or ``finish``).
    """

    def __init__(self, tracking: dict | None, run_dir: Path, warn: Callable[[str], None]):
        tracking = tracking or {}
        self.mode = str(tracking.get("wandb", "offline"))
        if self.mode not in MODES:
            raise ValueError(f"tracking.wandb must be one of {', '.join(MODES)}, "
                             f"not {self.mode!r}")
        if os.environ.get("WANDB_MODE") == "disabled":
            self.mode = "disabled"
        self.project = str(tracking.get("project") or DEFAULT_PROJECT)
        self.run_dir = Path(run_dir)
        self.warn = warn
        self._child: subprocess.Popen | None = None
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()  # lines for the child
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()  # the child's reports
        self._threads: list[threading.Thread] = []

    @property
    def active(self) -> bool:
        """Whether metrics are being sent to W&B."""
        self._read_reports()
        return self._child is not None

    def start(self, run_id: str, config: dict) -> None:
        """Start the W&B child process and open the run (offline: files only)."""
        if self.mode == "disabled":
            discard_spare()
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._child = _take_spare() or _spawn()
        except OSError as e:
            self._fail(f"W&B could not start ({type(e).__name__}: {e})")
            return
        self._threads = [threading.Thread(target=target, args=(pipe,), daemon=True, name=name)
                         for target, pipe, name in
                         ((self._write, self._child.stdin, "wandb-writer"),
                          (self._read, self._child.stdout, "wandb-reader"))]
        for thread in self._threads:
            thread.start()
        self._send({"op": "start", "project": self.project, "run_id": run_id,
                    "dir": str(self.run_dir), "mode": self.mode, "config": config,
                    "stats_pid": os.getpid(), "log": str(self.run_dir / WORKER_LOG),
                    "env": {"WANDB_DIR": str(self.run_dir), "WANDB_MODE": self.mode}})

    def log(self, phase: str, metrics: dict, step: int | None = None) -> None:
        """Log metrics as ``<phase>/<name>``."""
        if not self.active:
            return
        data = {f"{phase}/{name}": value for name, value in metrics.items()}
        if step is not None:
            data[f"{phase}/step"] = step
        self._send({"op": "log", "data": data})

    def finish(self, exit_code: int = 0) -> None:
        """Close the W&B run: wait for the child to write it out and end."""
        if self._child is None:
            return
        child, self._child = self._child, None
        self._outbox.put(json.dumps({"op": "finish", "exit_code": int(exit_code)}))
        self._outbox.put(None)  # the writer closes the child's stdin
        try:
            child.wait(timeout=FINISH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            self.warn(f"W&B did not close within {FINISH_TIMEOUT_S:.0f} s and was stopped; "
                      "the registry has every metric")
        for thread in self._threads:
            thread.join(timeout=5.0)
        self._read_reports(closing=True)

    # ------------------------------------------------------------ the pipes
    def _send(self, request: dict) -> None:
        # a value JSON has no type for (a numpy or torch scalar) goes as a float, as the
        # registry keeps it
        self._outbox.put(json.dumps(request, default=float))

    def _write(self, stdin) -> None:
        """Thread: the queued lines to the child's stdin; a dead child ends it."""
        try:
            while (line := self._outbox.get()) is not None:
                stdin.write(line.encode() + b"\n")
                stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the child ended: its last report (or exit status) says why
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def _read(self, stdout) -> None:
        """Thread: the child's report lines, for the caller's thread to act on."""
        for line in stdout:  # wandb's own prints share this pipe: only reports count
            try:
                report = json.loads(line)
            except ValueError:
                continue
            if isinstance(report, dict):
                self._inbox.put(report)
        self._inbox.put({"event": "exited"})

    def _read_reports(self, closing: bool = False) -> None:
        """Warn about what the child reported; an error or an early exit turns tracking
        off."""
        finished = False
        while True:
            try:
                report = self._inbox.get_nowait()
            except queue.Empty:
                break
            event = report.get("event")
            if event in ("error", "warning"):
                (self._fail if event == "error" else self.warn)(str(report.get("message")))
            finished = finished or event == "finished"
            if event == "exited" and not finished and not closing and self._child is not None:
                self._fail(f"the W&B process ended early (see {self.run_dir / WORKER_LOG})")
            elif event == "exited" and not finished and closing:
                self.warn(f"the W&B process ended without closing the run (see "
                          f"{self.run_dir / WORKER_LOG})")

    def _fail(self, message: str) -> None:
        if self._child is not None:
            self._outbox.put(None)  # the child reads to the end and exits
            self._child = None
        self.warn(message + "; tracking to W&B is off for this run, the registry has "
                  "every metric")
