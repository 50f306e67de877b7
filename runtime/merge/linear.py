"""Linear merge (model soups, Wortsman et al. 2022, arXiv:2203.05482)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from runtime.merge.registry import MERGES, TensorMethod
from runtime.merge.request import MergeRequest
from runtime.merge.task_vectors import model_weights, weighted_sum


def linear(request: MergeRequest, settings: dict, name: str,
           tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """sum_k w_k theta_k / sum_k w_k: weights are normalised, so only their ratios matter."""
    weights = model_weights(request, len(tensors))
    total = sum(weights)
    if total <= 0:
        raise ValueError("linear merge needs at least one positive weight")
    return weighted_sum(tensors, weights).div_(total)


MERGES.register("linear")(TensorMethod(linear))
