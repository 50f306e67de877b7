"""The EvoMerge genome: a merge technique plus every parameter the search varies.

A genome is plain data (JSON round-trips exactly), so checkpoints and the registry's
lineage details hold it as is. ``GenomeSpace.to_request`` turns it into a
``runtime.merge.MergeRequest``. Genes per technique:

- linear, task_arithmetic, ties, dare: ``weights`` (one per input) and the technique's
  numeric/categorical ``settings`` (density, drop, lambda, combine);
- slerp: ``members`` (the two inputs, in order) and ``settings["t"]``;
- frankenmerge: ``layers``, one ``(model, layer)`` per layer of the result; consecutive
  runs become the request's slices;
- dfs: ``indicator`` I over the T = N*r slots (N = layers of all inputs, r repeats;
  slot on iff I > 0) and ``scales``, the N x N matrix W;
- ``input`` (not a merge): input ``members[0]`` itself, so parents compete as candidates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

INPUT = "input"  # the pseudo-technique of an unmerged input model


@dataclass(frozen=True)
class Genome:
    """One candidate merge.

    Attributes:
        technique: a merge technique name, or ``input`` for an unmerged input model.
        settings: technique settings by their merge-API names (``t``, ``density``, ``lambda``...).
        weights: one non-negative weight per input model (weighted techniques).
        members: the input indices merged, in order (slerp: two; ``input``: one).
        layers: frankenmerge: ``(model, layer)`` per layer of the result.
        indicator: dfs: one value per slot; a slot is on the path iff its value is > 0.
        scales: dfs: the N x N matrix W scaling layer j's input when it follows layer i.
    """

    technique: str
    settings: dict[str, Any] = field(default_factory=dict)
    weights: tuple[float, ...] = ()
    members: tuple[int, ...] = ()
    layers: tuple[tuple[int, int], ...] = ()
    indicator: tuple[float, ...] = ()
    scales: tuple[tuple[float, ...], ...] = ()

    def to_json(self) -> dict:
        """Plain JSON: lists, not tuples; floats kept exactly."""
        return {"technique": self.technique, "settings": dict(sorted(self.settings.items())),
                "weights": list(self.weights), "members": list(self.members),
                "layers": [list(x) for x in self.layers], "indicator": list(self.indicator),
                "scales": [list(row) for row in self.scales]}

    @classmethod
    def from_json(cls, data: dict) -> Genome:
        """Inverse of ``to_json``."""
        return cls(technique=data["technique"], settings=dict(data.get("settings", {})),
                   weights=tuple(float(w) for w in data.get("weights", ())),
                   members=tuple(int(m) for m in data.get("members", ())),
                   layers=tuple((int(m), int(x)) for m, x in data.get("layers", ())),
                   indicator=tuple(float(v) for v in data.get("indicator", ())),
                   scales=tuple(tuple(float(v) for v in row) for row in data.get("scales", ())))

    def key(self) -> str:
        """A stable identity: equal genomes have equal keys (measurements are cached by it)."""
        return json.dumps(self.to_json(), sort_keys=True)


def input_genome(index: int) -> Genome:
    """The genome standing for input model ``index`` itself."""
    return Genome(technique=INPUT, members=(index,))


def runs_of(layers: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int, int], ...]:
    """Per-layer ``(model, layer)`` -> slices ``(model, start, end)`` of consecutive layers."""
    slices: list[list[int]] = []
    for model, layer in layers:
        if slices and slices[-1][0] == model and slices[-1][2] == layer:
            slices[-1][2] += 1
        else:
            slices.append([model, layer, layer + 1])
    return tuple(tuple(s) for s in slices)
