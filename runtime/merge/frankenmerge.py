"""FrankenMerge (passthrough): stack layer slices of the inputs, copied verbatim.

E.g. slices ``[(0, 0, 6), (1, 2, 8)]`` = A[0:6] + B[2:8]: a 12-layer model. Non-layer
weights come from the first input. Untuned stacks rarely work (REFERENCES.md); the
evolutionary search chooses the slices.
"""

from __future__ import annotations

from collections.abc import Sequence

from runtime.merge.registry import MERGES, LayerMethod, LayerSource
from runtime.merge.request import MergeRequest


def frankenmerge_path(request: MergeRequest, settings: dict,
                      depths: Sequence[int]) -> list[LayerSource]:
    """The stacked layers: every layer of every slice, in order."""
    if not request.slices:
        raise ValueError("frankenmerge needs `slices` (model, start, end); the evolutionary "
                         "search provides them, or write them in the recipe")
    for model, start, end in request.slices:
        if not 0 <= model < len(depths):
            raise ValueError(f"slice model index {model} out of range ({len(depths)} inputs)")
        if not 0 <= start < end <= depths[model]:
            raise ValueError(f"slice [{start}, {end}) out of range for model {model} "
                             f"({depths[model]} layers)")
    return [LayerSource(m, layer) for m, start, end in request.slices
            for layer in range(start, end)]


MERGES.register("frankenmerge")(LayerMethod(frankenmerge_path))
