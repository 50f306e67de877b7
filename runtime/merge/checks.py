"""Checks shared by in-memory and directory merges, and the per-tensor dtype handling."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from runtime.merge.registry import Method, TensorMethod
from runtime.merge.request import MergeRequest


def check_model_count(request: MergeRequest, method: Method, n_models: int) -> None:
    """Enough (and not too many) inputs for the technique; ValueError otherwise."""
    if n_models < 1:
        raise ValueError("merging needs at least one input model")
    if isinstance(method, TensorMethod):
        low, high = method.min_models, method.max_models
        if n_models < low or (high is not None and n_models > high):
            want = f"exactly {low}" if low == high else f"at least {low}"
            raise ValueError(f"{request.technique} merges {want} models, got {n_models}")


def check_same_shapes(specs: Sequence[Mapping[str, Any]]) -> None:
    """Same-shape techniques need identical tensor names and shapes in every input."""
    first = specs[0]
    for i, other in enumerate(specs[1:], start=1):
        missing, extra = sorted(set(first) - set(other)), sorted(set(other) - set(first))
        if missing or extra:
            raise ValueError(f"model {i} has different tensors than model 0 (missing "
                             f"{missing[:3]}, extra {extra[:3]}): same-shape techniques "
                             "need one architecture")
        for key, spec in first.items():
            if tuple(other[key]) != tuple(spec):
                raise ValueError(f"tensor {key}: model {i} has {tuple(other[key])}, model 0 "
                                 f"has {tuple(spec)}: same-shape techniques need equal shapes")


def output_dtype(request: MergeRequest, dtype: torch.dtype) -> torch.dtype:
    """The output dtype of a tensor stored as ``dtype``: ``request.dtype``, or ``dtype`` itself
    when that is ``"first"`` or the tensor is not floating point."""
    if request.dtype == "first" or not dtype.is_floating_point:
        return dtype
    return getattr(torch, request.dtype)


def merge_tensor(method: TensorMethod, request: MergeRequest, settings: dict, name: str,
                 tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """One output tensor, computed in float32 (float64 stays) and cast to the output dtype
    (``request.dtype``; by default the first input's).

    Integer/bool tensors (counters, masks) are not weights: they are copied from the first input.
    """
    first = tensors[0]
    if not first.is_floating_point():
        return first.clone()
    compute = torch.float64 if first.dtype == torch.float64 else torch.float32
    merged = method.merge(request, settings, name, [t.to(compute) for t in tensors])
    return merged.to(output_dtype(request, first.dtype))
