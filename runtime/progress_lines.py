"""Progress as plain lines at a steady interval, for output that is not a terminal.

A log file or a CI job cannot show a live bar, and a phase can run for many minutes
between its "started" and "done" lines. ``ProgressLines`` keeps the latest progress of the
running phase; every ``interval`` seconds (``$FORGE_PROGRESS_INTERVAL``, default 30) a
``Heartbeat`` thread prints it as one line::

    ~ cognate 42% specialist1 step 240/300 loss=2.31 (3m12s elapsed)

The clock is a parameter, so tests drive ``ProgressLines.due`` with a fake one.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from forgelang.humanize import human_seconds
from runtime.utils.env_seconds import env_seconds

PROGRESS_INTERVAL_S = 30.0  # often enough to show life in a log, rare enough to read it
PROGRESS_INTERVAL_ENV = "FORGE_PROGRESS_INTERVAL"


def progress_interval() -> float:
    """Seconds between progress lines: ``$FORGE_PROGRESS_INTERVAL`` when it is a positive
    number, else ``PROGRESS_INTERVAL_S``."""
    return env_seconds(PROGRESS_INTERVAL_ENV, PROGRESS_INTERVAL_S, zero_allowed=False)


@dataclass
class _Running:
    phase: str
    started: float
    fraction: float = 0.0
    message: str = ""


class ProgressLines:
    """The running phase's latest progress, as a line once ``interval`` seconds passed.

    Args:
        interval: seconds between two lines (and from the phase's start to the first).
        clock: monotonic seconds (``time.monotonic``).
    """

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval, self.clock = interval, clock
        self._running: _Running | None = None
        self._next = math.inf
        self._lock = threading.Lock()

    def started(self, phase: str) -> None:
        """A phase began: its first line is due one interval from now."""
        with self._lock:
            now = self.clock()
            self._running, self._next = _Running(phase, now), now + self.interval

    def progressed(self, phase: str, fraction: float, message: str) -> None:
        """The latest progress of ``phase`` (ignored when it is not the running one)."""
        with self._lock:
            if self._running is not None and self._running.phase == phase:
                self._running.fraction, self._running.message = fraction, message

    def ended(self) -> None:
        """The running phase finished, failed or was interrupted: no more lines for it."""
        with self._lock:
            self._running, self._next = None, math.inf

    def due(self) -> str | None:
        """The progress line when one is due now (then the next is one interval later)."""
        with self._lock:
            now = self.clock()
            run = self._running
            if run is None or now < self._next:
                return None
            self._next = now + self.interval
            shown = f" {run.message}" if run.message else ""
            return (f"~ {run.phase} {100 * run.fraction:.0f}%{shown} "
                    f"({human_seconds(now - run.started)} elapsed)")

    def wait_time(self) -> float:
        """Seconds until the next line may be due (the interval when no phase runs)."""
        with self._lock:
            return min(self.interval, max(0.01, self._next - self.clock()))


class Heartbeat:
    """A daemon thread printing ``lines.due()`` with ``write`` whenever one is due."""

    def __init__(self, lines: ProgressLines, write: Callable[[str], None]) -> None:
        self.lines, self.write = lines, write
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread unless it runs."""
        if self._thread is None:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._loop, name="forge-progress",
                                            daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.lines.wait_time()):
            line = self.lines.due()
            if line is not None:
                self.write(line)

    def stop(self) -> None:
        """Stop the thread and wait for it (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
