"""The A/B loop's schedule: which cycle runs next, with plateau detection.

Cycle ``a`` is tool use, ``b`` personas. The loop alternates them, starting with ``a``.
A cycle has plateaued when its score rose by less than ``min_delta`` over its last
``window`` iterations (its own iterations: ``scores[-1] - scores[-1 - window]``); from
then on the loop switches to the other cycle and stays there. It stops after
``max_iterations`` or once both cycles have plateaued. Pure Python: the same history
gives the same schedule, so a resumed phase continues where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CYCLES = ("a", "b")  # a: tool use, b: personas


def plateaued(scores: Sequence[float], window: int, min_delta: float) -> bool:
    """Whether ``scores`` (one cycle's, in order) gained less than ``min_delta`` over its
    last ``window`` iterations; False while fewer than ``window + 1`` scores exist."""
    if len(scores) <= window:
        return False
    return scores[-1] - scores[-1 - window] < min_delta


@dataclass(frozen=True)
class CycleSchedule:
    """The loop's rule: ``window`` and ``min_delta`` of the plateau test, ``max_iterations``."""

    window: int
    min_delta: float
    max_iterations: int

    def scores(self, history: Sequence[tuple[str, float]], cycle: str) -> list[float]:
        """The scores of ``cycle``'s iterations in ``history`` (``(cycle, score)`` pairs)."""
        return [score for name, score in history if name == cycle]

    def plateaued(self, history: Sequence[tuple[str, float]]) -> dict[str, bool]:
        """Each cycle: whether it has plateaued in ``history``."""
        return {c: plateaued(self.scores(history, c), self.window, self.min_delta)
                for c in CYCLES}

    def next_cycle(self, history: Sequence[tuple[str, float]]) -> str | None:
        """The cycle of the next iteration, or None when the loop is done."""
        if len(history) >= self.max_iterations:
            return None
        flat = self.plateaued(history)
        open_cycles = [c for c in CYCLES if not flat[c]]
        if not open_cycles:
            return None
        if not history:
            return open_cycles[0]
        last = history[-1][0]
        other = CYCLES[1 - CYCLES.index(last)]
        return other if other in open_cycles else last
