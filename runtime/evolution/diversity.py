"""Behavioural diversity: how often two models answer the same held-out prompts differently.

Weight-space distance says little about behaviour (a FrankenMerge and a linear merge
are not even the same shape), so diversity is measured on what the models do: the
fraction of held-out examples on which their greedy predictions differ.
"""

from __future__ import annotations

from collections.abc import Sequence

# Below this mean diversity the population is collapsing: the search replaces its worst
# non-elite members by fresh random genomes. 0.05 = members disagree on fewer than 1 in
# 20 held-out answers (our choice; tiny models often agree on most answers).
DIVERSITY_FLOOR = 0.05


def prediction_distance(a: Sequence[str], b: Sequence[str]) -> float:
    """Fraction of examples where the two prediction lists differ (same examples, in order)."""
    if len(a) != len(b):
        raise ValueError(f"predictions of {len(a)} and {len(b)} examples cannot be compared")
    if not a:
        raise ValueError("diversity needs at least one example")
    return sum(x != y for x, y in zip(a, b, strict=True)) / len(a)


def member_diversity(predictions: Sequence[Sequence[str]]) -> list[float]:
    """Each member's mean prediction distance to every other member (0 for a lone member)."""
    n = len(predictions)
    out = []
    for i in range(n):
        others = [prediction_distance(predictions[i], predictions[j]) for j in range(n) if j != i]
        out.append(sum(others) / len(others) if others else 0.0)
    return out
