"""DARE (Yu et al., "Language Models are Super Mario", arXiv:2311.03099): drop and rescale.

Each task-vector entry is dropped with probability p and the survivors are scaled by
1/(1-p), so E[tau_hat] = tau; then the task vectors are combined linearly (task arithmetic,
b + lambda * sum_k w_k tau_hat_k, as mergekit's ``dare_linear``) or with TIES' sign
election and disjoint mean (``dare_ties``; no magnitude trim).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch

from runtime.merge.registry import MERGES, TensorMethod
from runtime.merge.request import MergeRequest
from runtime.merge.task_vectors import merge_task_vectors, weighted_sum
from runtime.merge.ties import disjoint_merge


def tensor_seed(seed: int, name: str) -> int:
    """A 63-bit seed from the request seed and the tensor name.

    Hashing the name (not a running counter) makes each tensor's mask independent of the
    order tensors are visited, so streaming and in-memory merges draw the same masks.
    """
    digest = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def drop_and_rescale(tau: torch.Tensor, drop: float, generator: torch.Generator) -> torch.Tensor:
    """Bernoulli(1 - p) keep mask on every entry of ``tau``, survivors times 1/(1-p); in place."""
    if drop <= 0:
        return tau
    dropped = torch.rand(tau.shape, generator=generator, dtype=torch.float32) < drop
    return tau.masked_fill_(dropped, 0.0).mul_(1.0 / (1.0 - drop))


def dare(request: MergeRequest, settings: dict, name: str,
         tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """b + lambda * combine(drop_and_rescale(tau_k)), masks seeded by (seed, tensor name)."""
    combine = disjoint_merge if settings["combine"] == "ties" else weighted_sum

    def dropped_merge(taus: list[torch.Tensor], weights: list[float]) -> torch.Tensor:
        # one generator per tensor, drawn for the task vectors in input order
        generator = torch.Generator().manual_seed(tensor_seed(request.seed, name))
        return combine([drop_and_rescale(tau, settings["drop"], generator) for tau in taus],
                       weights)

    return merge_task_vectors(request, tensors, settings["lambda"], dropped_merge)


MERGES.register("dare")(TensorMethod(dare))
