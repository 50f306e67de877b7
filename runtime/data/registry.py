"""The task-family contract and the registry that holds the families."""

from __future__ import annotations

import random
from typing import Protocol, runtime_checkable

from forgelang.registry import Registry
from runtime.data.example import Example

LEVELS: tuple[int, ...] = tuple(range(1, 11))


@runtime_checkable
class TaskFamily(Protocol):
    """A generator of examples plus its exact scorer.

    Attributes:
        name: Registry key, also ``Example.family`` and the metric suffix.
        summary: One line for docs and ``--help``.
    """

    name: str
    summary: str

    def generate(self, rng: random.Random, level: int) -> Example:
        """Draw one example of difficulty ``level`` (1-10) using only ``rng``."""
        ...

    def score(self, prediction: str, example: Example) -> bool:
        """True iff ``prediction`` is exactly right (whitespace-normalised)."""
        ...


class TaskRegistry(Registry[TaskFamily]):
    """Task families by name; ``register(family)`` takes the name from the family."""

    def __init__(self) -> None:
        super().__init__("task family", error=KeyError)

    def register(self, family: TaskFamily) -> TaskFamily:  # type: ignore[override]
        """Add a family under ``family.name``; a name can be registered once."""
        if not isinstance(family, TaskFamily):
            raise TypeError(f"{family!r} does not implement the TaskFamily protocol")
        return super().register(family.name, family)


def check_level(level: int) -> int:
    """Validate a difficulty level (1-10)."""
    if not isinstance(level, int) or isinstance(level, bool) or level not in LEVELS:
        raise ValueError(f"difficulty level must be an integer 1-10, got {level!r}")
    return level
