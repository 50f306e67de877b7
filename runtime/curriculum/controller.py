"""The level controller: keep the rolling accuracy near the edge of chaos.

The rolling accuracy is the share of the last ``window`` questions at the current level
that the model answered exactly (``runtime.curriculum.scoring``). Once ``min_questions``
were asked at a level, a rolling accuracy above ``threshold + tolerance`` moves one level
up, below ``threshold - tolerance`` one level down (within 1..``levels``); a move starts
the count and the window afresh, so the accuracy it reports is always the new level's.
Pure Python: its whole state is a JSON dict (``state_dict``), checkpointed with the model.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ControllerSettings:
    """What the controller aims at (the phase's ``threshold`` and ``controller`` block)."""

    levels: int
    threshold: float
    tolerance: float
    window: int
    min_questions: int


class LevelController:
    """The current level, the rolling window of outcomes, and every move made."""

    def __init__(self, settings: ControllerSettings, start_level: int) -> None:
        if not 1 <= start_level <= settings.levels:
            raise ValueError(f"start level {start_level} is outside 1..{settings.levels}")
        self.settings = settings
        self.level = start_level
        self.recent: deque[bool] = deque(maxlen=settings.window)
        self.at_level = 0  # questions asked at the current level
        self.moves: list[tuple[int, int]] = []  # (questions asked so far, new level)
        self.asked = 0

    @property
    def rolling_accuracy(self) -> float | None:
        """Share of the window answered exactly; None before any question at this level."""
        return sum(self.recent) / len(self.recent) if self.recent else None

    def observe(self, outcomes: Sequence[bool]) -> float:
        """Record one batch of outcomes at the current level, then move if the rolling
        accuracy left the band. Returns the rolling accuracy the decision saw."""
        if not outcomes:
            raise ValueError("observe needs at least one outcome")
        for correct in outcomes:
            self.recent.append(bool(correct))
        self.at_level += len(outcomes)
        self.asked += len(outcomes)
        seen = self.rolling_accuracy
        self._maybe_move(seen)
        return seen

    def _maybe_move(self, accuracy: float) -> None:
        s = self.settings
        if self.at_level < s.min_questions:
            return
        step = 1 if accuracy > s.threshold + s.tolerance else (
            -1 if accuracy < s.threshold - s.tolerance else 0)
        target = min(s.levels, max(1, self.level + step))
        if target != self.level:
            self.level, self.at_level = target, 0
            self.recent.clear()
            self.moves.append((self.asked, target))

    def state_dict(self) -> dict:
        """The controller's state as JSON values."""
        return {"level": self.level, "recent": [int(x) for x in self.recent],
                "at_level": self.at_level, "asked": self.asked,
                "moves": [list(m) for m in self.moves]}

    def load_state_dict(self, state: Mapping) -> None:
        """Restore ``state_dict()``'s output."""
        level = int(state["level"])
        if not 1 <= level <= self.settings.levels:
            raise ValueError(f"controller level {level} is outside 1..{self.settings.levels}")
        self.level, self.at_level, self.asked = level, int(state["at_level"]), int(state["asked"])
        self.recent = deque((bool(x) for x in state["recent"]), maxlen=self.settings.window)
        self.moves = [(int(a), int(b)) for a, b in state["moves"]]


def edge_level(accuracies: Mapping[int, float], threshold: float) -> int:
    """The level whose accuracy is nearest ``threshold`` (the easiest one on a tie)."""
    if not accuracies:
        raise ValueError("edge_level needs the accuracy of at least one level")
    return min(sorted(accuracies), key=lambda level: abs(accuracies[level] - threshold))
