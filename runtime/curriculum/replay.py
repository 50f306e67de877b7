"""Dream consolidation: a replay buffer of earlier questions and the step schedule.

The buffer is a reservoir sample (Vitter's algorithm R) of every question trained so far,
at most ``buffer_size`` of them, so it keeps the early levels in proportion to how long
they were trained. Every ``every`` new questions, and once more after the last one, a
consolidation round replays ``replay_ratio`` x (new questions since the last round)
questions drawn from the buffer (experience replay, as CLEAR, arXiv:1811.11682). Draws
come from ``derive_seed``, never from a global RNG, so a resumed run replays the same ones.
The step plan (``plan_steps``) lives in ``forgelang.kinds.curriculum``: the estimate
counts the same steps.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from forgelang.kinds.curriculum import NEW, REPLAY, Step, plan_steps
from runtime.data.splits import derive_seed

__all__ = ["NEW", "REPLAY", "QuestionRef", "ReplayBuffer", "Step", "plan_steps"]


@dataclass(frozen=True)
class QuestionRef:
    """A curriculum question by its place in the stream: regenerated on demand."""

    index: int  # the n-th new question of the phase
    level: int
    tool: bool  # a tool-use episode


class ReplayBuffer:
    """A seeded reservoir of at most ``capacity`` earlier questions."""

    def __init__(self, capacity: int, seed: int) -> None:
        self.capacity, self.seed = capacity, seed
        self.items: list[QuestionRef] = []
        self.seen = 0

    def add(self, ref: QuestionRef) -> None:
        """Offer one trained question to the reservoir."""
        self.seen += 1
        if len(self.items) < self.capacity:
            self.items.append(ref)
            return
        slot = derive_seed(self.seed, "reservoir", self.seen) % self.seen
        if slot < self.capacity:
            self.items[slot] = ref

    def sample(self, count: int, draw: int) -> list[QuestionRef]:
        """``count`` questions of the buffer for replay draw ``draw`` (without repeats
        while the buffer is large enough)."""
        if not self.items:
            raise ValueError("the replay buffer is empty")
        rng = random.Random(derive_seed(self.seed, "dream", draw))
        if count <= len(self.items):
            return rng.sample(self.items, count)
        return [rng.choice(self.items) for _ in range(count)]

    def state_dict(self) -> dict:
        """The buffer as JSON values."""
        return {"seen": self.seen, "items": [[r.index, r.level, int(r.tool)] for r in self.items]}

    def load_state_dict(self, state: Mapping) -> None:
        """Restore ``state_dict()``'s output."""
        items = [QuestionRef(int(i), int(level), bool(tool)) for i, level, tool in state["items"]]
        if len(items) > self.capacity:
            raise ValueError(f"replay buffer holds {len(items)} > {self.capacity} questions")
        self.items, self.seen = items, int(state["seen"])
