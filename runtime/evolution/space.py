"""The search space: which techniques, their bounds, and the inputs' layer layout.

Bounds come from the forgelang technique models themselves (a field declared
``ge=0, le=1`` is searched in [0, 1]); the recipe's settings (``ties { density = 0.2 }``)
are the first population's starting point. Open bounds (``gt``/``lt``) are kept
``OPEN_MARGIN`` inside.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

import annotated_types as at
import numpy as np

from forgelang.kinds.techniques import TECHNIQUES, Technique
from runtime.evolution.genome import INPUT, Genome, runs_of

OPEN_MARGIN = 1e-3  # distance kept from an open bound (density > 0, drop < 1)
WEIGHT_RANGE = (0.0, 1.0)  # per-model weights; all-zero is repaired to equal weights
SCALE_RANGE = (0.0, 2.0)  # DFS W entries
SAMPLE_CAP = 2.0  # random genomes draw settings in [lo, min(hi, 2)]: lambda 10 is a bound, not a start
DFS_NOISE = 0.35  # std of the indicator noise of a random DFS genome (~8% of slots flip)
WEIGHTED = ("linear", "task_arithmetic", "ties", "dare")
FIXED_STRUCTURE = ("slices", "layers", "repeats", "scale_matrix", "max_path_layers")


def numeric_bounds(technique: Technique, name: str) -> tuple[float, float]:
    """[lo, hi] of a float field of a technique model, from its pydantic constraints."""
    info = type(technique).model_fields[name]
    lo, hi = -np.inf, np.inf
    for m in info.metadata:
        if isinstance(m, at.Ge):
            lo = float(m.ge)
        elif isinstance(m, at.Gt):
            lo = float(m.gt) + OPEN_MARGIN
        elif isinstance(m, at.Le):
            hi = float(m.le)
        elif isinstance(m, at.Lt):
            hi = float(m.lt) - OPEN_MARGIN
    return lo, hi


def _genes(technique: Technique) -> tuple[dict, dict]:
    """(numeric genes {key: (field, lo, hi)}, categorical genes {key: (field, choices)})."""
    numeric, categorical = {}, {}
    for name, info in type(technique).model_fields.items():
        key = info.alias or name
        if key == "type" or key in FIXED_STRUCTURE:
            continue
        if info.annotation is float:
            numeric[key] = (name, *numeric_bounds(technique, name))
        elif typing.get_origin(info.annotation) is typing.Literal:
            categorical[key] = (name, typing.get_args(info.annotation))
    return numeric, categorical


@dataclass(frozen=True)
class GenomeSpace:
    """What genomes may be: the recipe's techniques over inputs of the given depths.

    Args:
        techniques: the recipe's technique settings (forgelang ``Technique`` models).
        depths: the layer count of each input model, in input order.
    """

    techniques: tuple[Technique, ...]
    depths: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.depths) < 2:
            raise ValueError("evolving merges needs at least two input models")
        names = [t.type for t in self.techniques]
        if len(set(names)) != len(names):
            raise ValueError(f"a technique is listed twice in {names}")

    @property
    def names(self) -> list[str]:
        """The enabled technique names, in recipe order."""
        return [t.type for t in self.techniques]

    def technique(self, name: str) -> Technique:
        """The recipe's settings of technique ``name``."""
        for t in self.techniques:
            if t.type == name:
                return t
        return TECHNIQUES.get(name)()

    def genes(self, name: str) -> tuple[dict, dict]:
        """(numeric, categorical) genes of technique ``name``."""
        return _genes(self.technique(name))

    # ---------------------------------------------------------------- DFS layout
    @property
    def total_layers(self) -> int:
        """N: the layers of all inputs together."""
        return sum(self.depths)

    def dfs_slots(self, name: str = "dfs") -> list[tuple[int, int]]:
        """``(model, layer)`` of each of the T = N*r slots: all layers, repeated r times."""
        one = [(m, layer) for m, d in enumerate(self.depths) for layer in range(d)]
        return one * self.technique(name).repeats

    def global_layer(self, model: int, layer: int) -> int:
        """Index of ``(model, layer)`` among all N layers (a row/column of W)."""
        return sum(self.depths[:model]) + layer

    # ---------------------------------------------------------------- genomes
    def seed(self, name: str) -> Genome:
        """The recipe's own settings of ``name``: equal weights, first inputs, identity paths."""
        tech = self.technique(name)
        numeric, categorical = self.genes(name)
        settings = {k: getattr(tech, f) for k, (f, *_rest) in {**numeric, **categorical}.items()}
        m = len(self.depths)
        if name == "slerp":
            return Genome(name, settings, members=(0, 1))
        if name == "frankenmerge":
            return Genome(name, settings, layers=self._franken_seed())
        if name == "dfs":
            return Genome(name, settings, indicator=self._dfs_pattern(0),
                          scales=self._ones())
        return Genome(name, settings, weights=(1.0,) * m, members=tuple(range(m)))

    def random(self, name: str, rng: np.random.Generator) -> Genome:
        """A random genome of technique ``name`` within the bounds."""
        seed = self.seed(name)
        numeric, categorical = self.genes(name)
        settings = dict(seed.settings)
        for key, (_f, lo, hi) in numeric.items():
            settings[key] = float(rng.uniform(lo, min(hi, SAMPLE_CAP)))
        for key, (_f, choices) in categorical.items():
            settings[key] = choices[int(rng.integers(len(choices)))]
        m = len(self.depths)
        if name == "slerp":
            members = tuple(int(i) for i in rng.choice(m, size=2, replace=False))
            return Genome(name, settings, members=members)
        if name == "frankenmerge":
            return Genome(name, settings, layers=self._franken_random(rng))
        if name == "dfs":
            base = np.array(self._dfs_pattern(int(rng.integers(m))))
            noisy = base + rng.normal(0.0, DFS_NOISE, size=base.shape)
            return self.repair(Genome(name, settings, indicator=tuple(float(v) for v in noisy),
                                      scales=self._ones()))
        weights = tuple(float(w) for w in rng.uniform(*WEIGHT_RANGE, size=m))
        return self.repair(Genome(name, settings, weights=weights, members=seed.members))

    def repair(self, g: Genome) -> Genome:
        """Put a genome back in bounds: clip settings, no all-zero weights, a non-empty path."""
        if g.technique == INPUT:
            return g
        numeric, _ = self.genes(g.technique)
        settings = {k: (float(np.clip(v, numeric[k][1], numeric[k][2])) if k in numeric else v)
                    for k, v in g.settings.items()}
        weights = tuple(float(np.clip(w, *WEIGHT_RANGE)) for w in g.weights)
        if weights and sum(weights) <= 0:
            weights = (1.0,) * len(weights)
        indicator = g.indicator
        if indicator and max(indicator) <= 0:
            i = int(np.argmax(indicator))
            indicator = indicator[:i] + (abs(indicator[i]) + 0.5,) + indicator[i + 1:]
        scales = tuple(tuple(float(np.clip(v, *SCALE_RANGE)) for v in row) for row in g.scales)
        if g.technique == "dfs" and not self.technique("dfs").scale_matrix:
            scales = self._ones()
        return Genome(g.technique, settings, weights, g.members, g.layers, indicator, scales)

    # ---------------------------------------------------------------- helpers
    def franken_depth(self) -> int:
        """Depth of a searched FrankenMerge result: the recipe's ``layers`` or input 0's."""
        return self.technique("frankenmerge").layers or self.depths[0]

    def _franken_seed(self) -> tuple[tuple[int, int], ...]:
        fixed = self.technique("frankenmerge").slices
        if fixed:
            return tuple((s.model, layer) for s in fixed for layer in range(s.start, s.end))
        depth = self.franken_depth()
        half = depth // 2  # A's first half, then B's second half: the classic A[0:k] + B[k:]
        return tuple((0 if p < half else 1, min(p, self.depths[0 if p < half else 1] - 1))
                     for p in range(depth))

    def _franken_random(self, rng: np.random.Generator) -> tuple[tuple[int, int], ...]:
        if self.technique("frankenmerge").slices:
            return self._franken_seed()  # the recipe fixed the slices: nothing to search
        depth = self.franken_depth()
        chunks = int(rng.integers(1, min(depth, 3) + 1))
        cuts = sorted(int(c) for c in rng.choice(np.arange(1, depth), size=chunks - 1,
                                                 replace=False)) if chunks > 1 else []
        layers: list[tuple[int, int]] = []
        for lo, hi in zip([0, *cuts], [*cuts, depth], strict=True):
            model = int(rng.integers(len(self.depths)))
            start = int(rng.integers(max(1, self.depths[model] - (hi - lo) + 1)))
            layers += [(model, min(start + j, self.depths[model] - 1)) for j in range(hi - lo)]
        return tuple(layers)

    def _dfs_pattern(self, model: int) -> tuple[float, ...]:
        """+0.5 on ``model``'s first-repetition slots, -0.5 elsewhere: exactly that model."""
        n = self.total_layers
        return tuple(0.5 if i < n and m == model else -0.5
                     for i, (m, _layer) in enumerate(self.dfs_slots()))

    def _ones(self) -> tuple[tuple[float, ...], ...]:
        n = self.total_layers
        return tuple((1.0,) * n for _ in range(n))

    def franken_slices(self, g: Genome) -> tuple[tuple[int, int, int], ...]:
        """The request slices of a frankenmerge genome."""
        return runs_of(g.layers)
