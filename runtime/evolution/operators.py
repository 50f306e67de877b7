"""Genetic operators: elitism, tournament selection, crossover, mutation.

Every operator takes the generation's ``numpy.random.Generator``, so one seed per
generation fixes everything it does. Mutation changes each gene with probability
``rate``: numeric settings get Gaussian noise of std ``scale * min(width, 1)`` (absolute
for unit-range settings, so lambda's 0..10 range is not a 10x bigger step), weights and
W entries noise of std ``scale``, a categorical setting a different choice, a slerp
member another input, a FrankenMerge layer another model or a neighbouring layer, and a
DFS slot is switched on/off (its indicator negated). Everything ends in
``GenomeSpace.repair``, so children stay in bounds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from runtime.evolution.genome import INPUT, Genome
from runtime.evolution.space import GenomeSpace


def elites(fitness: Sequence[float], k: int) -> list[int]:
    """Indices of the ``k`` fittest, best first (ties: earlier index first)."""
    order = sorted(range(len(fitness)), key=lambda i: (-fitness[i], i))
    return order[:k]


def tournament(fitness: Sequence[float], size: int, rng: np.random.Generator) -> int:
    """Index of the fittest of ``size`` members drawn without replacement."""
    size = min(size, len(fitness))
    drawn = rng.choice(len(fitness), size=size, replace=False)
    return int(min(drawn, key=lambda i: (-fitness[i], i)))


def crossover(a: Genome, b: Genome, rng: np.random.Generator) -> Genome:
    """Uniform crossover of two genomes of one technique; a copy of ``a`` otherwise.

    Each gene (setting, weight, FrankenMerge layer, DFS slot, W entry) comes from either
    parent with probability 1/2; slerp's member pair is inherited as a unit.
    """
    if a.technique != b.technique or a.technique == INPUT:
        return a

    def pick(x, y):
        if len(x) != len(y):
            return x
        return tuple(xi if rng.random() < 0.5 else yi for xi, yi in zip(x, y, strict=True))

    settings = {k: (v if rng.random() < 0.5 else b.settings.get(k, v))
                for k, v in a.settings.items()}
    members = a.members if rng.random() < 0.5 else b.members
    scales = tuple(pick(ra, rb) for ra, rb in zip(a.scales, b.scales, strict=False))
    return Genome(a.technique, settings, pick(a.weights, b.weights), members,
                  pick(a.layers, b.layers), pick(a.indicator, b.indicator), scales)


def mutate(g: Genome, space: GenomeSpace, rate: float, scale: float,
           rng: np.random.Generator) -> Genome:
    """Mutate each gene with probability ``rate``; see the module docstring."""
    if g.technique == INPUT:
        return g
    hit = lambda: rng.random() < rate  # noqa: E731  (one draw per gene, in gene order)
    numeric, categorical = space.genes(g.technique)
    settings = dict(g.settings)
    for key in sorted(settings):
        if key in numeric and hit():
            _f, lo, hi = numeric[key]
            settings[key] = settings[key] + float(rng.normal(0.0, scale * min(hi - lo, 1.0)))
        elif key in categorical and hit():
            others = [c for c in categorical[key][1] if c != settings[key]]
            settings[key] = others[int(rng.integers(len(others)))] if others else settings[key]
    weights = tuple(w + float(rng.normal(0.0, scale)) if hit() else w for w in g.weights)
    members = _mutate_members(g, len(space.depths), hit, rng)
    layers = g.layers
    if g.technique == "frankenmerge" and not space.technique("frankenmerge").slices:
        layers = tuple(_mutate_layer(x, space.depths, rng) if hit() else x for x in g.layers)
    indicator = tuple(-v if hit() else v for v in g.indicator)
    scales = tuple(tuple(v + float(rng.normal(0.0, scale)) if hit() else v for v in row)
                   for row in g.scales)
    return space.repair(Genome(g.technique, settings, weights, members, layers, indicator,
                               scales))


def _mutate_members(g: Genome, n_inputs: int, hit, rng) -> tuple[int, ...]:
    """Slerp: swap one member for another input not already in the pair."""
    if g.technique != "slerp" or not hit():
        return g.members
    spare = [i for i in range(n_inputs) if i not in g.members]
    if not spare:
        return g.members[::-1]  # two inputs: the only change is the direction of t
    slot = int(rng.integers(2))
    members = list(g.members)
    members[slot] = spare[int(rng.integers(len(spare)))]
    return tuple(members)


def _mutate_layer(x: tuple[int, int], depths: Sequence[int], rng) -> tuple[int, int]:
    """Another model's layer at the same depth, or a neighbouring layer of the same model."""
    model, layer = x
    if rng.random() < 0.5 and len(depths) > 1:
        model = int((model + 1 + rng.integers(len(depths) - 1)) % len(depths))
        return model, min(layer, depths[model] - 1)
    step = 1 if rng.random() < 0.5 else -1
    return model, int(np.clip(layer + step, 0, depths[model] - 1))
