"""Seeded train / held-out splits and weighted task mixtures.

Which split a prompt belongs to is a property of the prompt (its canonical hash,
see ``runtime.data.example.split_of``): generation draws candidates and keeps only
those that land in the requested split, so train and held-out never share a prompt,
whatever the seeds and sizes.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from forgelang.kinds.suite_roles import ROLE_FAMILIES
from runtime.data.example import Example
from runtime.data.families import TASKS
from runtime.data.registry import LEVELS, TaskRegistry, check_level

SPLITS = ("train", "heldout")
# Held-out is 10% of the prompt space, so ~10 draws find one; 2000 only fail when a
# (family, level) has almost no held-out prompts at all.
MAX_DRAWS = 2000


def derive_seed(*parts: object) -> int:
    """A 64-bit seed from any parts, identical on every machine and Python run."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True)
class TaskMix:
    """A weighted mixture of task families.

    Attributes:
        weights: family name -> positive weight (normalised when sampling).
    """

    weights: Mapping[str, float]

    def __post_init__(self) -> None:
        if not self.weights:
            raise ValueError("a task mix needs at least one family")
        for name, weight in self.weights.items():
            if not weight > 0:
                raise ValueError(f"task mix weight for {name!r} must be > 0, got {weight!r}")

    @classmethod
    def uniform(cls, families: Iterable[str]) -> TaskMix:
        """Equal weights over ``families``."""
        return cls(dict.fromkeys(families, 1.0))

    def counts(self, n: int) -> dict[str, int]:
        """Exactly ``n`` examples shared by weight (largest remainder, ties by order)."""
        total = sum(self.weights.values())
        shares = {k: n * w / total for k, w in self.weights.items()}
        counts = {k: int(s) for k, s in shares.items()}
        by_remainder = sorted(shares, key=lambda k: counts[k] - shares[k])
        for name in by_remainder[: n - sum(counts.values())]:
            counts[name] += 1
        return counts


# The Cognate specialists' mixes (phase 1) and the mix of everything.
SPECIALIST_MIXES: dict[str, TaskMix] = {
    role: TaskMix.uniform(families) for role, families in ROLE_FAMILIES.items()
}


def draw_example(family_name: str, rng: random.Random, level: int, split: str,
                 registry: TaskRegistry = TASKS) -> Example:
    """Draw examples of one family until one lands in ``split``."""
    family = registry.get(family_name)
    for _ in range(MAX_DRAWS):
        example = family.generate(rng, level)
        if example.split == split:
            return example
    raise RuntimeError(f"task family {family_name!r} level {level}: no {split} example in "
                       f"{MAX_DRAWS} draws; its prompt space is too small for this split")


def make_split(families: Sequence[str] | TaskMix, n: int, seed: int, split: str = "train",
               levels: Iterable[int] = LEVELS, registry: TaskRegistry = TASKS) -> list[Example]:
    """Generate ``n`` examples of one split, deterministically from ``seed``.

    Args:
        families: Family names (equal weights) or a TaskMix.
        n: Number of examples.
        seed: Same seed, same examples, on any machine.
        split: ``"train"`` or ``"heldout"``; the two never share a prompt.
        levels: Difficulty levels to draw from uniformly (default 1-10).
        registry: Where family names are looked up.

    Returns:
        The examples, families interleaved in a seeded order.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    levels = [check_level(level) for level in levels]
    if not levels:
        raise ValueError("levels must name at least one level 1-10")
    mix = families if isinstance(families, TaskMix) else TaskMix.uniform(families)
    for name in mix.weights:
        registry.get(name)  # unknown names fail before any generation, with a hint
    rng = random.Random(derive_seed("agent-forge-suite", seed, split))
    order = [name for name, count in mix.counts(n).items() for _ in range(count)]
    rng.shuffle(order)
    return [draw_example(name, rng, rng.choice(levels), split, registry) for name in order]
