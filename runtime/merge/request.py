"""``MergeRequest``: one concrete merge, everything needed to reproduce it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Technique fields that are not settings of the merge itself.
_TECHNIQUE_STRUCTURE = ("type", "slices")
# Output dtypes: "first" keeps the first input's dtype (per tensor).
OUTPUT_DTYPES = ("first", "float32", "bfloat16", "float16")
# Fields written by to_json only when not at their default, so older JSON stays unchanged.
_OPTIONAL = {"dtype": "first", "allow_config_mismatch": False}


@dataclass(frozen=True)
class MergeRequest:
    """One concrete merge: everything needed to reproduce it.

    Attributes:
        technique: A name in ``MERGES``: linear, slerp, task_arithmetic, ties, dare,
            frankenmerge, dfs.
        settings: Technique settings, e.g. ``{"density": 0.2, "lambda": 1.0}`` (ties),
            ``{"t": 0.3}`` (slerp), ``{"drop": 0.9, "combine": "ties", "lambda": 1.0}`` (dare).
        weights: One per input model; None = equal.
        base: Task-vector base b: ``"mean"`` of the inputs or the ``"first"`` input.
        slices: FrankenMerge: ``(model index, start layer, end layer exclusive)``, in order.
        path: DFS: ``(model index, layer index)`` per slot of the layer path, in order.
        scales: DFS: one scale per path entry (W[i, j] of the previous -> this layer);
            empty = all 1.
        seed: Seeds DARE's drop masks.
        dtype: Output dtype of floating tensors: ``"first"`` (the first input's, the
            default), ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        allow_config_mismatch: Merge inputs whose configs differ in fields that change what
            the model computes (``runtime.merge.compat``); refused by default.
    """

    technique: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    weights: tuple[float, ...] | None = None
    base: str = "mean"
    slices: tuple[tuple[int, int, int], ...] = ()
    path: tuple[tuple[int, int], ...] = ()
    scales: tuple[float, ...] = ()
    seed: int = 0
    dtype: str = "first"
    allow_config_mismatch: bool = False

    def __post_init__(self) -> None:
        # Accept lists (JSON, user code) but store tuples, so requests compare by value.
        put = object.__setattr__
        put(self, "settings", dict(self.settings))
        if self.weights is not None:
            put(self, "weights", tuple(float(w) for w in self.weights))
        put(self, "slices", tuple(tuple(int(v) for v in s) for s in self.slices))
        put(self, "path", tuple(tuple(int(v) for v in p) for p in self.path))
        put(self, "scales", tuple(float(s) for s in self.scales))
        if self.base not in ("mean", "first"):
            raise ValueError(f"base must be 'mean' or 'first', got {self.base!r}")
        if self.dtype not in OUTPUT_DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(OUTPUT_DTYPES)}, got {self.dtype!r}")
        put(self, "allow_config_mismatch", bool(self.allow_config_mismatch))
        if any(len(s) != 3 for s in self.slices):
            raise ValueError("each slice is (model index, start layer, end layer)")
        if any(len(p) != 2 for p in self.path):
            raise ValueError("each path entry is (model index, layer index)")

    @classmethod
    def from_technique(cls, technique, weights=None, base: str = "mean", seed: int = 0,
                       **options: Any) -> MergeRequest:
        """Build a request from a ``forgelang.kinds.techniques.Technique``.

        Args:
            technique: A validated technique model, e.g. ``Ties(density=0.2)``; its
                ``lambda_`` field becomes the ``"lambda"`` setting.
            weights: One weight per input model, or None for equal weights.
            base: ``"mean"`` or ``"first"``.
            seed: Seed of random parts (DARE).
            **options: ``dtype``, ``allow_config_mismatch``.

        Returns:
            The request; FrankenMerge's fixed ``slices`` become ``MergeRequest.slices``.
        """
        data = technique.model_dump(mode="json", by_alias=True)
        settings = {k: v for k, v in data.items() if k not in _TECHNIQUE_STRUCTURE}
        slices = tuple((s["model"], s["start"], s["end"]) for s in data.get("slices") or ())
        return cls(technique=data["type"], settings=settings,
                   weights=None if weights is None else tuple(weights), base=base,
                   slices=slices, seed=seed, **options)

    def to_json(self) -> dict:
        """Plain JSON (lists, not tuples) for checkpoints and the registry.

        ``dtype`` and ``allow_config_mismatch`` appear only when not at their defaults.
        """
        extra = {k: getattr(self, k) for k, default in _OPTIONAL.items()
                 if getattr(self, k) != default}
        return {
            "technique": self.technique,
            "settings": dict(self.settings),
            "weights": None if self.weights is None else list(self.weights),
            "base": self.base,
            "slices": [list(s) for s in self.slices],
            "path": [list(p) for p in self.path],
            "scales": list(self.scales),
            "seed": self.seed,
            **extra,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MergeRequest:
        """Inverse of :meth:`to_json`; unknown keys are an error."""
        known = {"technique", "settings", "weights", "base", "slices", "path", "scales", "seed",
                 *_OPTIONAL}
        extra = set(data) - known
        if extra:
            raise ValueError(f"unknown MergeRequest fields: {', '.join(sorted(extra))}")
        return cls(**dict(data))
