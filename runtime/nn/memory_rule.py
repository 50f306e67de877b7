"""Titans neural memory (Behrouz, Zhong, Mirrokni, arXiv:2501.00663), written at test time.

The memory is a 2-layer MLP ``M(x) = W2 silu(W1 x)`` whose weights are a per-sequence state.
For token ``t`` with key ``k_t``, value ``v_t`` and gates ``eta_t, theta_t, alpha_t``::

    loss_t = ||M(k_t) - v_t||^2
    S_t    = eta_t S_{t-1} - theta_t grad loss_t          (surprise with momentum)
    M_t    = (1 - alpha_t) M_{t-1} + S_t                  (forgetting)

The sequence is processed in chunks of ``C`` tokens; every gradient of a chunk is taken at the
memory of the chunk's start (as in the paper's parallel training), so the recurrence over the
chunk is linear in the gradients and collapses to scalar coefficients (built with cumulative
products, exact even for gates equal to 0 or 1). Per-token gradients are never materialised:
``sum_i c_i grad loss_i`` is two batched matmuls with the explicit MLP gradient, which keeps the
write differentiable for outer training.

Stability (our choice): each token's gradient is clipped to Frobenius norm ``max_grad_norm``
before it enters the recurrence; ``None`` gives the raw rule.

Causality (our choice among the two allowed): the read at ``t`` is ``M(q_t)`` with the memory as
it was at the START of ``t``'s chunk, i.e. only writes of chunks strictly before ``t``'s chunk.

This module states the rule with the per-sequence weights built (``write_chunk``,
``memory_read``): the reference the tests check the rule against. ``NeuralMemory`` runs the
same rule in dual form (``memory_dual``), which shares the coefficients and the clip here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class MemoryState:
    """Per-sequence memory weights ``w1 (B, h, d)``, ``w2 (B, d, h)`` and their surprise.

    A surprise of None is zero (the initial state): the write then skips its terms.
    """

    w1: torch.Tensor
    w2: torch.Tensor
    s1: torch.Tensor | None
    s2: torch.Tensor | None


def memory_read(w1: torch.Tensor, w2: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Evaluate ``M(x) = W2 silu(W1 x)`` row-wise; w1 (B, h, d), w2 (B, d, h), x (B, C, d)."""
    return torch.bmm(F.silu(torch.bmm(x, w1.transpose(1, 2))), w2.transpose(1, 2))  # (B, C, d)


def _sq(x: torch.Tensor) -> torch.Tensor:
    """Squared norm over the last axis."""
    return x.square().sum(-1)


def _weighted_outer(coef: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``sum_c coef[:, c, m] a[:, c, :, None] b[:, c, None, :]``: (B, C, m), (B, C, r), (B, C, s)
    -> (B, m, r, s), as one batched matmul (an einsum here dispatched ~18 small ops)."""
    bsz, c, m = coef.shape
    weighted = (coef[..., None] * a[:, :, None, :]).reshape(bsz, c, m * a.shape[-1])
    return torch.bmm(weighted.transpose(1, 2), b).view(bsz, m, a.shape[-1], b.shape[-1])


def weighted_memory_gradients(
    w1: torch.Tensor,
    w2: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    coef: torch.Tensor,
    max_norm: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``sum_i coef[i, m] * clip(grad_W ||M(k_i) - v_i||^2)`` for each of ``m`` coefficient sets.

    Each token's gradient is a pair of rank-1 matrices (``err_i act_i^T`` and ``du_i k_i^T``), so
    its Frobenius norm is cheap and exact; ``max_norm`` rescales any token gradient above it to
    that norm (our choice, like titans-pytorch's ``max_grad_norm``: without it the test-time
    gradient descent of an MLP diverges once outer training grows the values).

    Args:
        w1: ``(B, h, d)`` first-layer memory weights (where the gradient is taken).
        w2: ``(B, d, h)`` second-layer memory weights.
        k: ``(B, C, d)`` keys.
        v: ``(B, C, d)`` values.
        coef: ``(B, C, m)`` per-token coefficients.
        max_norm: Per-token gradient norm bound; None leaves gradients raw.

    Returns:
        ``g1 (B, m, h, d)`` and ``g2 (B, m, d, h)``.
    """
    u = torch.bmm(k, w1.transpose(1, 2))  # (B, C, h)
    sig = torch.sigmoid(u)
    act = u * sig  # silu(u)
    err = torch.baddbmm(v, act, w2.transpose(1, 2), beta=-2.0, alpha=2.0)  # 2 (M(k) - v)
    d_u = torch.bmm(err, w2) * silu_slope(sig, act)  # (B, C, h)
    if max_norm is not None:
        coef = coef * clip_scale(err, act, d_u, k, max_norm)[..., None]
    return _weighted_outer(coef, d_u, k), _weighted_outer(coef, err, act)


def silu_slope(sig: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
    """``silu'(u) = sigmoid(u) (1 + u (1 - sigmoid(u)))`` from ``sig = sigmoid(u)``, ``act = silu(u)``."""
    return sig + act * (1.0 - sig)


def clip_scale(err: torch.Tensor, act: torch.Tensor, d_u: torch.Tensor, k: torch.Tensor,
               max_norm: float) -> torch.Tensor:
    """``min(1, max_norm / ||grad_i||_F)`` per token, (B, C): the token's gradient is the pair
    ``(d_u_i k_i^T, err_i act_i^T)``, whose squared norm is a sum of products of row norms."""
    norm_sq = _sq(err) * _sq(act) + _sq(d_u) * _sq(k)  # (B, C)
    return max_norm * norm_sq.clamp_min(max_norm**2).rsqrt()


@functools.lru_cache(maxsize=16)
def _triangles(c: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean ``(C, C)`` masks ``j > i`` and ``t >= i``, built once per chunk length.

    Built outside inference mode, so a first call under it cannot leave the cache with
    tensors that training's autograd refuses to save.
    """
    with torch.inference_mode(False):
        ones = torch.ones(c, c, dtype=torch.bool, device=device)
        return ones.triu(1), ones.triu(0)


@dataclass
class ChunkCoefficients:
    """The closed form of one chunk's recurrence (see ``chunk_coefficients``).

    ``decay``, ``carry`` and ``momentum`` are ``(B, 1, 1)``, ready to scale ``(B, r, c)``
    weights; ``momentum`` is None when the surprise is not wanted.
    """

    decay: torch.Tensor
    carry: torch.Tensor
    momentum: torch.Tensor | None
    grads: torch.Tensor


def chunk_coefficients(
    eta: torch.Tensor, theta: torch.Tensor, alpha: torch.Tensor, with_surprise: bool = True
) -> ChunkCoefficients:
    """Closed form of the surprise/forgetting recurrence over one chunk.

    With gradients ``g_i`` fixed at the chunk start, the end of the chunk is::

        M_end = decay * M_0 + carry * S_0 + sum_i grads[i, 0] * g_i
        S_end = momentum * S_0 + sum_i grads[i, 1] * g_i

    Args:
        eta, theta, alpha: ``(B, C)`` gates in [0, 1].
        with_surprise: False computes the memory's coefficients only.

    Returns:
        ``grads`` of shape ``(B, C, 2)`` (columns: into the memory, into the surprise;
        ``(B, C, 1)`` without the surprise) and the chunk-level scalars.
    """
    upper, lower = _triangles(eta.shape[1], eta.device)
    # run[b, i, t] = prod_{i < j <= t} eta_j for t >= i, else 0
    run = torch.where(upper, eta[:, None, :], 1.0).cumprod(dim=-1) * lower  # (B, C, C)
    tail_keep = (1.0 - alpha).flip(-1).cumprod(-1).flip(-1)  # prod_{j >= t} (1 - alpha_j)
    after = F.pad(tail_keep[:, 1:], (0, 1), value=1.0)  # (B, C) prod_{j > t} (1 - alpha_j)
    eta_prefix = eta.cumprod(dim=-1)  # (B, C) prod_{j <= t} eta_j
    into = torch.bmm(run, after[..., None])  # (B, C, 1)
    if with_surprise:
        into = torch.cat([into, run[:, :, -1:]], dim=-1)  # (B, C, 2)
    return ChunkCoefficients(
        decay=tail_keep[:, :1, None],
        carry=(after * eta_prefix).sum(-1)[:, None, None],
        momentum=eta_prefix[:, -1:, None] if with_surprise else None,
        grads=into * -theta[..., None],
    )


def write_chunk(
    state: MemoryState,
    k: torch.Tensor,
    v: torch.Tensor,
    eta: torch.Tensor,
    theta: torch.Tensor,
    alpha: torch.Tensor,
    max_grad_norm: float | None = None,
    with_surprise: bool = True,
) -> MemoryState:
    """Write one chunk of keys/values into the memory.

    Args:
        state: Memory at the chunk start.
        k, v: ``(B, C, d)`` keys and values.
        eta, theta, alpha: ``(B, C)`` momentum, learning-rate and forgetting gates.
        max_grad_norm: Per-token gradient norm bound (see ``weighted_memory_gradients``).
        with_surprise: False skips the surprise at the chunk end (returned as None): the
            last write of a sequence, whose surprise no later chunk reads.

    Returns:
        The memory and surprise at the chunk end.
    """
    co = chunk_coefficients(eta, theta, alpha, with_surprise)
    g1, g2 = weighted_memory_gradients(state.w1, state.w2, k, v, co.grads, max_grad_norm)
    w1 = torch.addcmul(g1[:, 0], co.decay, state.w1)
    w2 = torch.addcmul(g2[:, 0], co.decay, state.w2)
    if state.s1 is not None:
        w1, w2 = w1.addcmul(co.carry, state.s1), w2.addcmul(co.carry, state.s2)
    if co.momentum is None:
        return MemoryState(w1, w2, None, None)
    if state.s1 is None:
        return MemoryState(w1, w2, g1[:, 1], g2[:, 1])
    s1 = torch.addcmul(g1[:, 1], co.momentum, state.s1)
    s2 = torch.addcmul(g2[:, 1], co.momentum, state.s2)
    return MemoryState(w1, w2, s1, s2)
