"""TIES merging (Yadav et al., "Resolving Interference When Merging Models", arXiv:2306.01708).

Trim each task vector to its top-``density`` magnitudes, elect a sign per entry by summed
(weighted) mass, average only the entries that agree with it, and add ``lambda`` times the
result to the base.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from runtime.merge.registry import MERGES, TensorMethod
from runtime.merge.request import MergeRequest
from runtime.merge.task_vectors import merge_task_vectors, weighted_sum


def trim(tau: torch.Tensor, density: float) -> torch.Tensor:
    """Keep the top ``max(1, int(density * numel))`` magnitudes of ``tau``, zero the rest.

    A k-th-value threshold (linear time) instead of a full sort; entries tied with the
    threshold magnitude are all kept (only possible for exactly equal floats). Returns a new
    tensor; ``tau`` is not modified.
    """
    n = tau.numel()
    if density >= 1 or n == 0:
        return tau.clone()
    k = max(1, int(density * n))
    magnitude = tau.abs()
    threshold = magnitude.reshape(-1).kthvalue(n - k + 1).values  # k-th largest
    return tau.masked_fill(magnitude < threshold, 0.0)


def disjoint_merge(taus: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """Sign election + disjoint weighted mean of task vectors (each (*shape)) -> (*shape).

    The elected sign of an entry is the sign of sum_k w_k tau_k (0 counts as +); only inputs
    whose weighted entry has that sign contribute, divided by their summed weight (zeros
    never agree).
    """
    weighted = [tau * w for tau, w in zip(taus, weights, strict=True)]
    positive = weighted_sum(weighted, [1.0] * len(weighted)) >= 0  # (*shape) elected +
    mixed = torch.zeros_like(weighted[0])
    divisor = torch.zeros_like(weighted[0])
    for wtau, w in zip(weighted, weights, strict=True):
        agree = torch.where(positive, wtau > 0, wtau < 0)  # (*shape) bool
        mixed.add_(wtau.masked_fill_(~agree, 0.0))
        divisor.add_(agree, alpha=w)
    return mixed.div_(divisor.masked_fill_(divisor == 0, 1.0))


def ties(request: MergeRequest, settings: dict, name: str,
         tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """b + lambda * disjoint_merge(trim(tau_k, density))."""
    def trimmed_merge(taus: list[torch.Tensor], weights: list[float]) -> torch.Tensor:
        return disjoint_merge([trim(tau, settings["density"]) for tau in taus], weights)

    return merge_task_vectors(request, tensors, settings["lambda"], trimmed_merge)


MERGES.register("ties")(TensorMethod(ties))
