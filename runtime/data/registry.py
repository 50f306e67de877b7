"""The task-family contract and the registry that holds the families."""

from __future__ import annotations

import random
from typing import Protocol, runtime_checkable

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


class TaskRegistry:
    """Registry of task families: ``register``, ``get`` (with did-you-mean) and ``names``."""

    def __init__(self) -> None:
        self._families: dict[str, TaskFamily] = {}

    def register(self, family: TaskFamily) -> TaskFamily:
        """Add a family under ``family.name``; a name can be registered once."""
        if not isinstance(family, TaskFamily):
            raise TypeError(f"{family!r} does not implement the TaskFamily protocol")
        if family.name in self._families:
            raise ValueError(f"task family {family.name!r} registered twice")
        self._families[family.name] = family
        return family

    def get(self, name: str) -> TaskFamily:
        """The family called ``name``; an unknown name raises KeyError with a hint."""
        try:
            return self._families[name]
        except KeyError:
            from forgelang.diagnostics import did_you_mean

            hint = did_you_mean(name, self._families) or ""
            raise KeyError(f"unknown task family {name!r}. {hint}".strip()) from None

    def __contains__(self, name: str) -> bool:
        return name in self._families

    def names(self) -> list[str]:
        """Registered family names, in registration order."""
        return list(self._families)


def check_level(level: int) -> int:
    """Validate a difficulty level (1-10)."""
    if not isinstance(level, int) or isinstance(level, bool) or level not in LEVELS:
        raise ValueError(f"difficulty level must be an integer 1-10, got {level!r}")
    return level
