"""Shared pieces of task-vector techniques: per-model weights, the base b, tau_k = theta_k - b.

Tensors are handled as lists and combined in place: a merge is memory-bound, and every
temporary the size of a weight matrix costs as much as the arithmetic itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from runtime.merge.request import MergeRequest


def model_weights(request: MergeRequest, n_models: int) -> list[float]:
    """The per-model weights w_k (equal = all 1), checked against the number of inputs."""
    if request.weights is None:
        return [1.0] * n_models
    if len(request.weights) != n_models:
        raise ValueError(f"{len(request.weights)} weights given for {n_models} input models")
    if any(w < 0 for w in request.weights):
        raise ValueError(f"weights must be non-negative, got {list(request.weights)}")
    return list(request.weights)


def weighted_sum(tensors: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """sum_k w_k t_k into one new tensor."""
    out = tensors[0] * weights[0]
    for t, w in zip(tensors[1:], weights[1:], strict=True):
        out.add_(t, alpha=w)
    return out


def base_tensor(request: MergeRequest, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """The base b: the unweighted mean of the inputs, or the first input."""
    if request.base == "first":
        return tensors[0]
    return weighted_sum(tensors, [1.0] * len(tensors)).div_(len(tensors))


def task_vectors(request: MergeRequest, base: torch.Tensor, tensors: Sequence[torch.Tensor],
                 weights: Sequence[float]) -> tuple[list[torch.Tensor], list[float]]:
    """The non-zero task vectors tau_k = theta_k - b and their weights.

    With ``base = "first"`` the first input's task vector is zero by definition; it adds
    nothing to a sum and never agrees with an elected sign, so it is left out.
    """
    skip = 1 if request.base == "first" else 0
    taus = [t - base for t in tensors[skip:]]
    return taus, list(weights[skip:])


Combine = Callable[[list[torch.Tensor], list[float]], torch.Tensor]


def merge_task_vectors(request: MergeRequest, tensors: Sequence[torch.Tensor], scale: float,
                       combine: Combine) -> torch.Tensor:
    """``b + scale * combine(tau_k, w_k)``: the shape of every task-vector technique.

    ``combine`` gets the non-zero task vectors (it may change them in place) and their
    weights; with none (one input, ``base = "first"``) the result is the base itself.
    """
    base = base_tensor(request, tensors)
    taus, weights = task_vectors(request, base, tensors, model_weights(request, len(tensors)))
    if not taus:
        return base.clone()
    return combine(taus, weights).mul_(scale).add_(base)
