"""From a layer path (FrankenMerge, DFS) to output tensors: which input tensor fills each key.

Non-layer weights (embeddings, final norm, head, ...) come from the first input; output
layer i is the path's i-th layer copied from its model, with its residual-branch outputs
scaled when a scale is not 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from runtime.merge.architecture import Architecture
from runtime.merge.registry import LayerSource


class TensorSource(NamedTuple):
    """Output tensor = input ``model``'s tensor ``key`` times ``scale``."""

    model: int
    key: str
    scale: float = 1.0


def _layer_shapes(arch: Architecture, shapes: Mapping[str, Any], layer: int) -> dict[str, Any]:
    """suffix -> shape of one layer's tensors."""
    return {split[1]: shape for key, shape in shapes.items()
            if (split := arch.split(key)) is not None and split[0] == layer}


def layer_plan(arch: Architecture, shapes: Sequence[Mapping[str, Any]],
               layers: Sequence[LayerSource]) -> dict[str, TensorSource]:
    """Output key -> source, in the first input's key order with the new layers in place.

    Args:
        arch: The inputs' architecture.
        shapes: Per input model, tensor key -> shape (any comparable spec).
        layers: The result's layers, in order.

    Raises:
        ValueError: A path layer's tensors differ from the first input's layers (widths or
            layer kinds differ), or a scale is asked of an architecture it cannot scale.
    """
    template = _layer_shapes(arch, shapes[0], 0)
    per_layer = []
    for i, src in enumerate(layers):
        found = _layer_shapes(arch, shapes[src.model], src.layer)
        if found != template:
            raise ValueError(f"layer {src.layer} of model {src.model} (path slot {i}) does not "
                             "match the first model's layers: the inputs must share widths")
        if src.scale != 1.0:
            _check_scalable(arch, template)
        per_layer.append({arch.key(i, sfx): TensorSource(
            src.model, arch.key(src.layer, sfx), src.scale if arch.scaled(sfx) else 1.0)
            for sfx in template})
    plan: dict[str, TensorSource] = {}
    placed = False
    for key in shapes[0]:
        if arch.split(key) is None:
            plan[key] = TensorSource(0, key)
        elif not placed:  # the new layers go where the first input's layers were
            for layer in per_layer:
                plan.update(layer)
            placed = True
    return plan


def _check_scalable(arch: Architecture, template: Mapping[str, Any]) -> None:
    """A layer can be scaled only through all of its residual-branch outputs."""
    bad = [sfx for sfx in template if any(frag in sfx for frag in arch.unscalable)]
    weights = [sfx for sfx in arch.residual_outputs if sfx.endswith("weight")]
    missing = [sfx for sfx in weights if sfx not in template]
    if bad or missing:
        raise ValueError(f"DFS scales are not supported for this {arch.name}-style layer "
                         f"({', '.join(bad or missing)}); use scales of 1")


def path_config(config: Any, arch: Architecture, configs: Sequence[Any],
                layers: Sequence[LayerSource]) -> Any:
    """Set the depth (and per-layer ``layer_types``, if any) of a config dict or object."""
    def get(c, k):
        return c.get(k) if isinstance(c, dict) else getattr(c, k, None)

    def put(k, v):
        if isinstance(config, dict):
            config[k] = v
        else:
            setattr(config, k, v)

    put(arch.depth_key, len(layers))
    types = [get(c, "layer_types") for c in configs]
    if all(isinstance(t, list) for t in types):
        put("layer_types", [types[src.model][src.layer] for src in layers])
    return config
