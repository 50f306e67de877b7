"""Task arithmetic (Ilharco et al., "Editing Models with Task Arithmetic", arXiv:2212.04089)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from runtime.merge.registry import MERGES, TensorMethod
from runtime.merge.request import MergeRequest
from runtime.merge.task_vectors import merge_task_vectors, weighted_sum


def task_arithmetic(request: MergeRequest, settings: dict, name: str,
                    tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """b + lambda * sum_k w_k tau_k (weights not normalised; equal weights are all 1).

    With ``base = "mean"`` and equal weights the task vectors sum to zero, so the result is
    the mean of the inputs; the technique is meant for ``base = "first"`` or unequal weights.
    """
    return merge_task_vectors(request, tensors, settings["lambda"], weighted_sum)


MERGES.register("task_arithmetic")(TensorMethod(task_arithmetic))
