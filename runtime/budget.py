"""The recipe's time budget (``budget { time = 15m }``) during an apply.

``forge plan`` warns when its forecast passes the budget; an apply says it too: once at
the start, when the forecast of the phases it will run (the same forecast ``forge plan``
prints: the cost model corrected by this workspace's measured history) passes the
budget, and once during the run, when the time it has run passes it. Both are warnings:
the apply goes on, as ``forge plan`` without ``--strict`` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from forgelang.humanize import human_seconds


def forecast_seconds(plan, to_run: Iterable[str], registry) -> float:
    """The forecast wall time of the steps named in ``to_run`` (seconds)."""
    from forgelang.history import with_forecasts
    from runtime.estimate_history import measured_history

    names = set(to_run)
    forecasted = with_forecasts(plan, measured_history(registry))
    return sum(s.expected_seconds for s in forecasted.steps if s.name in names)


def forecast_warning(budget_s: float | None, forecast_s: float, phases: int) -> str | None:
    """The warning when the forecast of ``phases`` phases passes the budget, else None."""
    if not budget_s or forecast_s <= budget_s:
        return None
    return (f"the forecast for the {phases} phase(s) to run, {human_seconds(forecast_s)}, "
            f"passes the recipe's budget.time of {human_seconds(budget_s)} (`forge plan` "
            "shows each phase's forecast); the apply goes on")


class TimeBudget:
    """Says once when the run's elapsed time passes the budget.

    Args:
        seconds: the recipe's ``budget.time``, or None (no budget: never says anything).
        clock: monotonic seconds.
        started: when the run started, on ``clock`` (default: now).
    """

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic,
                 started: float | None = None) -> None:
        self.seconds, self.clock = seconds, clock
        self.started = clock() if started is None else started
        self._said = not seconds

    def passed(self) -> str | None:
        """The warning, the first time it is called after the budget passed; else None."""
        if self._said:
            return None
        elapsed = self.clock() - self.started
        if elapsed <= self.seconds:
            return None
        self._said = True
        return (f"this apply has run {human_seconds(elapsed)}, past the recipe's budget.time "
                f"of {human_seconds(self.seconds)}; it goes on (Ctrl-C stops it and keeps "
                "its progress: the same command resumes it)")
