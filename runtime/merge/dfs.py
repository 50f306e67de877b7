"""DFS, data-flow-space merging (Akiba et al., "Evolutionary Optimization of Model Merging
Recipes", arXiv:2403.13187, section 3.2).

The weights stay frozen; the result is a path of layers taken from the inputs (the search
turns the indicator over the T = M * r repeated slots into this path), and the scaling
matrix W gives each path layer the factor W[i, j] for "layer j follows layer i".

Our variant: the paper multiplies the *input* of layer j by W[i, j]. To keep the result a
standard, loadable Hugging Face model (no extra ops in the forward pass), we instead scale
the layer's *residual-branch output* -- ``x + f(x)`` becomes ``x + s * f(x)`` -- by folding
s into the branch's output projections (Llama: self_attn.o_proj, mlp.down_proj; GPT-2:
attn.c_proj, mlp.c_proj, weights and biases; Cognate: mag_attn_norm.weight and
mlp.down_proj). s = 1 copies the layer; s = 0 makes it the identity.
"""

from __future__ import annotations

from collections.abc import Sequence

from runtime.merge.registry import MERGES, LayerMethod, LayerSource
from runtime.merge.request import MergeRequest


def dfs_path(request: MergeRequest, settings: dict, depths: Sequence[int]) -> list[LayerSource]:
    """The path's layers with their scales (all 1 when ``scales`` is empty)."""
    path = request.path
    if not path:
        raise ValueError("dfs needs a layer `path` of (model, layer) entries; the "
                         "evolutionary search provides it")
    scales = request.scales or (1.0,) * len(path)
    if len(scales) != len(path):
        raise ValueError(f"dfs: {len(scales)} scales for a path of {len(path)} layers")
    if not settings.get("scale_matrix", True) and any(s != 1.0 for s in scales):
        raise ValueError("dfs: scale_matrix = false, so every scale must be 1")
    cap = settings.get("max_path_layers")
    if cap is not None and len(path) > cap:
        raise ValueError(f"dfs: path of {len(path)} layers exceeds max_path_layers = {cap}")
    for model, layer in path:
        if not 0 <= model < len(depths):
            raise ValueError(f"dfs: model index {model} out of range ({len(depths)} inputs)")
        if not 0 <= layer < depths[model]:
            raise ValueError(f"dfs: layer {layer} out of range for model {model} "
                             f"({depths[model]} layers)")
    return [LayerSource(m, layer, float(s)) for (m, layer), s in zip(path, scales, strict=True)]


MERGES.register("dfs")(LayerMethod(dfs_path))
