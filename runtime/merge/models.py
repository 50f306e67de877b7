"""``merge_models``: merge in-memory Hugging Face models into a new model."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from runtime.merge.architecture import architecture_of, check_depth, layer_count
from runtime.merge.checks import check_model_count, check_same_shapes, merge_tensor, output_dtype
from runtime.merge.compat import check_compatible_configs
from runtime.merge.layer_plan import layer_plan, path_config
from runtime.merge.registry import MERGES, LayerMethod, TensorMethod, resolved_settings
from runtime.merge.request import MergeRequest

if TYPE_CHECKING:
    from transformers import PreTrainedModel


def merge_models(request: MergeRequest, models: Sequence[PreTrainedModel]) -> PreTrainedModel:
    """Merge ``models`` as ``request`` says.

    Args:
        request: Technique, settings, weights, base, slices/path/scales and seed.
        models: Input models of one architecture (same-shape techniques need equal shapes).

    Returns:
        A new model of ``models[0]``'s class; the inputs are untouched. Deterministic given
        ``request.seed``. FrankenMerge/DFS results have their config depth set to the new
        number of layers.

    Raises:
        ValueError: Unknown technique, bad settings, wrong number of inputs, mismatched shapes,
            configs that differ in what they compute (unless ``allow_config_mismatch``).
    """
    method = MERGES.get(request.technique)
    settings = resolved_settings(request)
    check_model_count(request, method, len(models))
    with torch.no_grad():
        if isinstance(method, TensorMethod):
            return _merge_same_shape(request, method, settings, models)
        return _merge_layers(request, method, settings, models)


def _storage_id(t: torch.Tensor) -> tuple:
    """Identity of a tensor's memory: tied weights share it."""
    return (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape))


def _merge_same_shape(request: MergeRequest, method: TensorMethod, settings: dict,
                      models: Sequence[PreTrainedModel]) -> PreTrainedModel:
    """Every state-dict tensor merged in place into a copy of the first model."""
    states = [m.state_dict() for m in models]
    check_same_shapes([{k: tuple(v.shape) for k, v in s.items()} for s in states])
    check_compatible_configs([m.config.to_dict() for m in models], request.allow_config_mismatch)
    out = copy.deepcopy(models[0])
    if request.dtype != "first":
        out.to(dtype=output_dtype(request, models[0].dtype))
    target = out.state_dict()  # shares memory with out's parameters and buffers
    done = set()
    for key in states[0]:
        if _storage_id(target[key]) in done:
            continue  # tied to a tensor already merged (e.g. lm_head = embeddings)
        done.add(_storage_id(target[key]))
        target[key].copy_(merge_tensor(method, request, settings, key, [s[key] for s in states]))
    return out


def _merge_layers(request: MergeRequest, method: LayerMethod, settings: dict,
                  models: Sequence[PreTrainedModel]) -> PreTrainedModel:
    """A new model whose layers are copied (and scaled) from the inputs along the path."""
    states = [m.state_dict() for m in models]
    arch = architecture_of(states[0])
    for i, state in enumerate(states):
        if architecture_of(state) != arch:
            raise ValueError(f"model {i} is not a {arch.name}-style model like model 0")
        check_depth(arch, state, layer_count(models[i]))
    layers = method.path(request, settings, [layer_count(m) for m in models])
    plan = layer_plan(arch, [{k: tuple(v.shape) for k, v in s.items()} for s in states], layers)
    check_compatible_configs([m.config.to_dict() for m in models], request.allow_config_mismatch,
                             same_depth=False)
    config = path_config(copy.deepcopy(models[0].config), arch,
                         [m.config for m in models], layers)
    first = models[0]
    out = type(first)(config).to(dtype=output_dtype(request, first.dtype))
    weights = {key: states[src.model][src.key] * src.scale if src.scale != 1.0
               else states[src.model][src.key].clone() for key, src in plan.items()}
    out.load_state_dict(weights, strict=True)
    out.train(first.training)
    return out
