"""Apply events: JSON lines for ``--json``, a rich display for people, rows in the registry.

Every event is a dict ``{"event": TYPE, "run_id", "phase", "time", ...}``. Types:
``run_started``, ``phase_started``, ``phase_progress``, ``metric``, ``phase_finished``,
``phase_cached``, ``phase_failed``, ``gate_verdict``, ``warning``, ``run_finished``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import TextIO

from forgelang.humanize import human_bytes

EVENT_TYPES = ("run_started", "phase_started", "phase_progress", "metric", "phase_finished",
               "phase_cached", "phase_failed", "gate_verdict", "warning", "run_finished")
# progress and metrics have their own registry tables; only these become event rows
RECORDED = frozenset(EVENT_TYPES) - {"phase_progress", "metric"}

Listener = Callable[[dict], None]


class EventBus:
    """Fans each event out to its listeners (JSON writer, console, registry)."""

    def __init__(self, run_id: str | None = None) -> None:
        self.run_id = run_id
        self.listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        """Add a listener called with every event dict."""
        self.listeners.append(listener)

    def emit(self, type_: str, phase: str | None = None, **data) -> dict:
        """Send one event to every listener; returns it."""
        if type_ not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type_!r}")
        event = {"event": type_, "run_id": self.run_id, "phase": phase, "time": time.time(),
                 **data}
        for listener in self.listeners:
            listener(event)
        return event


def json_lines(stream: TextIO | None = None) -> Listener:
    """A listener printing each event as one JSON line (flushed: readers follow live)."""
    def write(event: dict) -> None:
        out = stream or sys.stdout
        out.write(json.dumps(event, sort_keys=True, default=str) + "\n")
        out.flush()

    return write


def registry_recorder(registry) -> Listener:
    """A listener storing the lasting events in the registry's ``events`` table."""
    def record(event: dict) -> None:
        if event["event"] in RECORDED and event.get("run_id"):
            data = {k: v for k, v in event.items() if k not in ("event", "run_id", "phase")}
            registry.record_event(event["run_id"], event["event"], data, event.get("phase"))

    return record


class ConsoleReporter:
    """People's view of an apply.

    On a terminal, a rich bar per phase: the phase, its bar, percent and ETA, then what it
    is doing now, the kernel's progress message (``"specialist1 step 240/300 loss=2.31"``,
    ``runtime.kernels.step_message``). A message without a metric of its own is followed by
    the latest key metric the phase logged during the current stage (the message's first
    word). Otherwise (a pipe, a log file, CI) plain lines: one per phase event, and
    between them the running phase's progress every ``$FORGE_PROGRESS_INTERVAL`` seconds
    (``runtime.progress_lines``).
    """

    KEY_METRICS = ("loss", "accuracy", "fitness", "retention")

    def __init__(self, console=None, interval: float | None = None) -> None:
        from rich.console import Console

        from runtime.progress_lines import Heartbeat, ProgressLines, progress_interval

        self.console = console or Console()
        self.live = self.console.is_terminal
        self._bars = None
        self._tasks: dict[str, int] = {}
        self._shown: dict[str, dict] = {}  # phase -> {"message", "metric"} on its bar
        self.lines = ProgressLines(progress_interval() if interval is None else interval)
        self._heartbeat = None if self.live else Heartbeat(self.lines, self._print)

    def __call__(self, event: dict) -> None:
        handler = getattr(self, "_on_" + event["event"], None)
        if handler is not None:
            handler(event)

    def _print(self, line: str) -> None:
        """One line as it is: no markup, and never wrapped (a log keeps it whole)."""
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def _progress(self):
        if self._bars is None:
            from rich.progress import (
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bars = Progress(TextColumn("{task.description:<14}"), BarColumn(),
                                  TaskProgressColumn(), TimeRemainingColumn(),
                                  TextColumn("{task.fields[status]}", markup=False),
                                  console=self.console)
            self._bars.start()
        return self._bars

    def _on_phase_started(self, e: dict) -> None:
        if self.live:
            self._tasks[e["phase"]] = self._progress().add_task(e["phase"], total=1.0, status="")
            self._shown[e["phase"]] = {"message": "", "metric": ""}
            return
        self._print(f"+ {e['phase']} ({e.get('kind', '')}) started")
        self.lines.started(e["phase"])
        self._heartbeat.start()

    def _on_phase_progress(self, e: dict) -> None:
        message = e.get("message") or ""
        if not self.live:
            self.lines.progressed(e["phase"], e["fraction"], message)
        elif e["phase"] in self._tasks:
            shown = self._shown[e["phase"]]
            if message.split(" ")[:1] != shown["message"].split(" ")[:1]:
                shown["metric"] = ""  # another stage: the last one's metric is not current
            shown["message"] = message
            self._progress().update(self._tasks[e["phase"]], completed=e["fraction"],
                                    status=self.status(e["phase"]))

    def _on_metric(self, e: dict) -> None:
        name = e["name"]
        if self.live and e["phase"] in self._tasks and name.split(".")[0] in self.KEY_METRICS:
            self._shown[e["phase"]]["metric"] = f"{name}={e['value']:.4g}"
            self._progress().update(self._tasks[e["phase"]], status=self.status(e["phase"]))

    def status(self, phase: str) -> str:
        """What the bar of ``phase`` says after its percent and ETA."""
        shown = self._shown[phase]
        if "=" in shown["message"] or not shown["metric"]:
            return shown["message"]
        return f"{shown['message']} {shown['metric']}".strip()

    def _on_phase_finished(self, e: dict) -> None:
        self.lines.ended()
        if self.live and e["phase"] in self._tasks:
            self._progress().update(self._tasks[e["phase"]], completed=1.0)
        line = (f"  {e['phase']}: done in {e['seconds']:.2f} s, peak memory "
                f"{human_bytes(e['peak_memory_bytes'])}, {len(e.get('models', []))} model(s)")
        self.console.print(line, markup=False, highlight=False)

    def _on_phase_cached(self, e: dict) -> None:
        self.console.print(f"= {e['phase']} cached (phase run {e['source_phase_run']})",
                           markup=False, highlight=False)

    def _on_phase_failed(self, e: dict) -> None:
        self.lines.ended()
        self.close()
        self._print(f"! {e['phase']} {e['status']}: {e['error']}")

    def _on_gate_verdict(self, e: dict) -> None:
        mark = "passed" if e["passed"] else f"FAILED ({e['action']})"
        self._print(f"  gate after {e['phase']}: {e['expression']} -> {mark} [{e['message']}]")

    def _on_warning(self, e: dict) -> None:
        self._print(f"warning: {e['message']}")

    def _on_run_finished(self, e: dict) -> None:
        self.close()
        # the message of a run that did not succeed goes to stderr, once (runtime.commands)
        said = e.get("message") if not e.get("exit_code") else ""
        self.console.print(f"run {e['run_id']} {e['status']}" + (f": {said}" if said else ""),
                           markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        """Stop the live display and the progress lines (idempotent)."""
        self.lines.ended()
        if self._heartbeat is not None:
            self._heartbeat.stop()
        if self._bars is not None:
            self._bars.stop()
            self._bars = None
            self._tasks.clear()
