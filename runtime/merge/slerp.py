"""SLERP: spherical linear interpolation of two models, tensor by tensor (Shoemake 1985).

Applied to model merging per tensor as in mergekit; REFERENCES.md gives the formula.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from runtime.merge.registry import MERGES, TensorMethod
from runtime.merge.request import MergeRequest

# |cos| above this: the tensors are (anti)parallel, sin(omega) ~ 0, so lerp is used instead.
DOT_THRESHOLD = 0.9995
# Norms below this cannot give a direction (e.g. all-zero biases): lerp.
NORM_EPS = 1e-8
# Entries per float32 partial dot product (see _dot).
CHUNK = 1 << 20


def slerp_tensors(t: float, v0: torch.Tensor, v1: torch.Tensor) -> torch.Tensor:
    """sin((1-t)W)/sin W * v0 + sin(tW)/sin W * v1 on the unnormalised tensors, W = angle.

    Falls back to lerp (1-t) v0 + t v1 when the tensors are nearly parallel or one is ~0.
    """
    a, b = v0.reshape(-1), v1.reshape(-1)  # (N,) each
    norm_a, norm_b = math.sqrt(_dot(a, a)), math.sqrt(_dot(b, b))
    if norm_a < NORM_EPS or norm_b < NORM_EPS:
        return _mix(v0, 1 - t, v1, t)
    dot = max(-1.0, min(1.0, _dot(a, b) / (norm_a * norm_b)))
    if abs(dot) > DOT_THRESHOLD:
        return _mix(v0, 1 - t, v1, t)
    omega = math.acos(dot)
    sin_omega = math.sin(omega)
    return _mix(v0, math.sin((1 - t) * omega) / sin_omega, v1, math.sin(t * omega) / sin_omega)


def _dot(a: torch.Tensor, b: torch.Tensor) -> float:
    """Dot product of flat tensors, exact to ~1e-7 relative without float64 copies.

    A float32 norm over millions of entries lost ~1e-4 (measured); float32 dots of
    1M-entry chunks summed as Python floats (float64) stay near 1e-6, and few large calls
    avoid the per-call threading overhead that many small ones pay on a busy machine.
    """
    if a.dtype == torch.float64:
        return torch.dot(a, b).item()
    return math.fsum(torch.dot(x, y).item() for x, y in zip(a.split(CHUNK), b.split(CHUNK),
                                                             strict=True))


def _mix(v0: torch.Tensor, c0: float, v1: torch.Tensor, c1: float) -> torch.Tensor:
    """c0 * v0 + c1 * v1 with one allocation."""
    return (v0 * c0).add_(v1, alpha=c1)


def slerp(request: MergeRequest, settings: dict, name: str,
          tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """SLERP of exactly two inputs at ``t`` (0 = first model, 1 = second); weights unused."""
    return slerp_tensors(float(settings["t"]), tensors[0], tensors[1])


MERGES.register("slerp")(TensorMethod(slerp, min_models=2, max_models=2))
