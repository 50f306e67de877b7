"""Singular-value decomposition of a model's target matrices, and rebuilding them from z.

Transformer² SVF (Sun, Cetin, Tang, arXiv:2501.06252): each target matrix is decomposed
once, W = U diag(sigma) V^T, and an expert is one vector z per matrix with
W' = U diag(sigma * z) V^T. We use this formula as written (z starts at 1, so the expert
starts as the base model); the paper's official code passes z through a sigmoid and
renormalises sum(sigma), which we do not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

# Which linear layers each `svf.targets` group holds, by a part of the module's name:
# Cognate names `attn.*`, `mlp.*`, `memory.*`; Llama-style models `self_attn.*`, `mlp.*`.
GROUPS: dict[str, tuple[str, ...]] = {
    "attention": ("attn",),
    "mlp": ("mlp",),
    "memory": ("memory",),
}


def _group_of(name: str) -> str | None:
    parts = name.split(".")
    for group, markers in GROUPS.items():
        if any(marker in part for part in parts for marker in markers):
            return group
    return None


def target_matrices(model: nn.Module, targets: Sequence[str]) -> list[str]:
    """Names of the ``nn.Linear`` layers (output head excluded) in the ``targets`` groups.

    Raises:
        ValueError: none of the model's linears belongs to the groups (e.g. ``memory`` on a
            Llama model).
    """
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    names = [name for name, m in model.named_modules()
             if isinstance(m, nn.Linear) and m is not head and _group_of(name) in targets]
    if not names:
        raise ValueError(f"the model has no linear layer in the svf targets {list(targets)}")
    return names


@dataclass(frozen=True)
class Factors:
    """W = U diag(sigma) V^T of one matrix: U (m, k), sigma (k,), Vh (k, n), k = min(m, n)."""

    u: torch.Tensor
    sigma: torch.Tensor
    vh: torch.Tensor

    def rebuild(self, z: torch.Tensor) -> torch.Tensor:
        """W' = U diag(sigma * z) V^T, (m, n); differentiable in ``z`` (k,)."""
        return (self.u * (self.sigma * z)) @ self.vh  # (m, k) * (k,) @ (k, n) -> (m, n)


def decompose(model: nn.Module, names: Sequence[str]) -> dict[str, Factors]:
    """The SVD of each named linear's weight, computed in float64 and kept in float32.

    Deterministic on one machine (LAPACK on CPU); U and V are frozen tensors, never trained.
    """
    return {name: factorise(model.get_submodule(name).weight) for name in names}


def factorise(weight: torch.Tensor) -> Factors:
    """W = U diag(sigma) V^T of one (m, n) matrix, in float64, kept in float32, on the CPU."""
    u, sigma, vh = torch.linalg.svd(weight.detach().to(torch.float64).cpu(), full_matrices=False)
    return Factors(u.float().contiguous(), sigma.float().contiguous(), vh.float().contiguous())


def ones_like(factors: Mapping[str, Factors]) -> dict[str, torch.Tensor]:
    """z = 1 for every matrix: the base model."""
    return {name: torch.ones_like(f.sigma) for name, f in factors.items()}


def mix(experts: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float],
        names: Sequence[str]) -> dict[str, torch.Tensor]:
    """z = 1 + sum_k alpha_k (z_k - 1) per matrix (our form of the paper's sum_k alpha_k z_k:
    equal to it when the weights sum to 1; all weights 0 gives the base model, not W = 0)."""
    if not experts or len(experts) != len(weights):
        raise ValueError(f"{len(weights)} mixing weights for {len(experts)} experts")
    out = {}
    for name in names:
        z = torch.ones_like(experts[0][name])
        for expert, alpha in zip(experts, weights, strict=True):
            z = z + float(alpha) * (expert[name] - 1.0)
        out[name] = z
    return out


def weights_for(factors: Mapping[str, Factors], z: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """W' of every matrix for the z vectors ``z`` (no gradient)."""
    with torch.no_grad():
        return {name: f.rebuild(z[name]) for name, f in factors.items()}


def load_weights(model: nn.Module, weights: Mapping[str, torch.Tensor]) -> None:
    """Copy ``weights`` (matrix name -> (m, n)) into the model's linears, in place."""
    with torch.no_grad():
        for name, weight in weights.items():
            param = model.get_submodule(name).weight
            param.copy_(weight.to(param.dtype))
