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
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# Gate biases at initialisation (our choice): momentum eta ~ 0.5, write rate theta ~ 0.05,
# forgetting alpha ~ 0.02, so early writes are small and the memory does not blow up.
GATE_BIAS_INIT = (0.0, -3.0, -4.0)


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
    return F.silu(x @ w1.transpose(1, 2)) @ w2.transpose(1, 2)  # (B, C, d)


def _sq(x: torch.Tensor) -> torch.Tensor:
    """Squared norm over the last axis."""
    return x.pow(2).sum(-1)


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
    u = k @ w1.transpose(1, 2)  # (B, C, h)
    sig = torch.sigmoid(u)
    act = u * sig  # silu(u)
    err = 2.0 * (act @ w2.transpose(1, 2) - v)  # (B, C, d) d loss / d M(k)
    d_u = (err @ w2) * sig * (1.0 + u * (1.0 - sig))  # (B, C, h) through silu'
    if max_norm is not None:
        norm = (_sq(err) * _sq(act) + _sq(d_u) * _sq(k)).sqrt()  # (B, C) per-token ||grad||_F
        coef = coef * (max_norm / norm.clamp_min(max_norm))[..., None]
    g2 = torch.einsum("bcm,bcd,bch->bmdh", coef, err, act)
    g1 = torch.einsum("bcm,bch,bcd->bmhd", coef, d_u, k)
    return g1, g2


def chunk_coefficients(
    eta: torch.Tensor, theta: torch.Tensor, alpha: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Closed form of the surprise/forgetting recurrence over one chunk.

    With gradients ``g_i`` fixed at the chunk start, the end of the chunk is::

        M_end = decay * M_0 + carry * S_0 + sum_i grad_to_memory[i] * g_i
        S_end = momentum * S_0 + sum_i grad_to_surprise[i] * g_i

    Args:
        eta, theta, alpha: ``(B, C)`` gates in [0, 1].

    Returns:
        ``decay, carry, momentum`` of shape ``(B,)`` and ``grads`` of shape ``(B, C, 2)``
        (columns: into the memory, into the surprise).
    """
    c = eta.shape[1]
    upper = torch.ones(c, c, dtype=torch.bool, device=eta.device).triu(1)  # j > i
    ones = torch.ones_like(eta)
    # run[b, i, t] = prod_{i < j <= t} eta_j  (valid for t >= i)
    run = torch.where(upper, eta[:, None, :], ones[:, None, :]).cumprod(dim=-1)  # (B, C, C)
    lower = torch.ones(c, c, dtype=torch.bool, device=eta.device).triu(0)  # t >= i
    run = run * lower  # (B, i, t)
    keep = 1.0 - alpha
    tail_keep = keep.flip(-1).cumprod(-1).flip(-1)  # prod_{j >= t} (1 - alpha_j)
    after = torch.cat([tail_keep[:, 1:], ones[:, :1]], dim=1)  # (B, C) prod_{j > t} (1 - alpha_j)
    eta_prefix = eta.cumprod(dim=-1)  # (B, C) prod_{j <= t} eta_j
    to_memory = -theta * (run @ after[..., None]).squeeze(-1)  # (B, C)
    to_surprise = -theta * run[:, :, -1]  # (B, C)
    return {
        "decay": tail_keep[:, 0],
        "carry": (after * eta_prefix).sum(-1),
        "momentum": eta_prefix[:, -1],
        "grads": torch.stack([to_memory, to_surprise], dim=-1),
    }


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
    co = chunk_coefficients(eta, theta, alpha)
    coef = co["grads"] if with_surprise else co["grads"][..., :1]  # (B, C, 2 or 1)
    g1, g2 = weighted_memory_gradients(state.w1, state.w2, k, v, coef, max_grad_norm)

    def scale(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return s[:, None, None] * x  # (B,) times (B, r, c)

    w1 = scale(state.w1, co["decay"]) + g1[:, 0]
    w2 = scale(state.w2, co["decay"]) + g2[:, 0]
    if state.s1 is not None:
        w1, w2 = w1 + scale(state.s1, co["carry"]), w2 + scale(state.s2, co["carry"])
    if not with_surprise:
        return MemoryState(w1, w2, None, None)
    if state.s1 is None:
        return MemoryState(w1, w2, g1[:, 1], g2[:, 1])
    s1 = scale(state.s1, co["momentum"]) + g1[:, 1]
    s2 = scale(state.s2, co["momentum"]) + g2[:, 1]
    return MemoryState(w1, w2, s1, s2)


class NeuralMemory(nn.Module):
    """Titans long-term memory: projections, gates and the initial memory MLP of one layer."""

    def __init__(self, d_model: int, hidden: int, chunk: int, max_grad_norm: float | None = 1.0):
        super().__init__()
        self.chunk, self.max_grad_norm = chunk, max_grad_norm
        self.key_proj = nn.Linear(d_model, d_model, bias=False)
        self.value_proj = nn.Linear(d_model, d_model, bias=False)
        self.query_proj = nn.Linear(d_model, d_model, bias=False)
        self.init_w1 = nn.Parameter(torch.empty(hidden, d_model))  # M_0 first layer
        self.init_w2 = nn.Parameter(torch.empty(d_model, hidden))  # M_0 second layer
        self.gates = nn.Linear(d_model, 3)  # eta, theta, alpha (the only biased Linear here)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self, std: float = 0.02) -> None:
        """Fan-in scaled ``M_0`` (its test-time gradients must not vanish); small gate weights."""
        nn.init.normal_(self.init_w1, std=self.init_w1.shape[1] ** -0.5)
        nn.init.normal_(self.init_w2, std=self.init_w2.shape[1] ** -0.5)
        nn.init.normal_(self.gates.weight, std=std)
        bias = self.gates.bias
        bias.copy_(torch.tensor(GATE_BIAS_INIT, dtype=bias.dtype, device=bias.device))

    def initial_state(self, batch: int) -> MemoryState:
        """``M_0`` (the learned initial weights) with zero surprise, for ``batch`` sequences."""
        w1 = self.init_w1[None].expand(batch, -1, -1)
        w2 = self.init_w2[None].expand(batch, -1, -1)
        return MemoryState(w1, w2, None, None)

    def gate_values(
        self, gate_logits: torch.Tensor, token_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``eta, theta, alpha`` (B, T) from ``gates(h)`` (B, T, 3); padding tokens are no-ops."""
        eta, theta, alpha = torch.sigmoid(gate_logits).unbind(-1)  # (B, T) each
        if token_mask is not None:
            real = token_mask.to(gate_logits.dtype)
            # eta = 1, theta = 0, alpha = 0 leave memory and surprise untouched
            eta, theta, alpha = eta * real + (1 - real), theta * real, alpha * real
        return eta, theta, alpha

    def forward(self, h: torch.Tensor, token_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Read the memory at every position while writing the sequence into it.

        Args:
            h: ``(B, T, d)`` normalised input.
            token_mask: Optional ``(B, T)``, 0 marks padding (not written).

        Returns:
            ``(B, T, d)`` memory read ``M_{start of chunk}(q_t)``.
        """
        return self.read_write(self.key_proj(h), self.value_proj(h), self.query_proj(h),
                               self.gates(h), token_mask)

    def read_write(self, key: torch.Tensor, value: torch.Tensor, query: torch.Tensor,
                   gate_logits: torch.Tensor, token_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``forward`` from the projections ``key, value, query`` (B, T, d) and ``gates(h)``."""
        b, t, _ = key.shape
        k = F.normalize(key, dim=-1)  # (B, T, d) unit keys, as in Titans
        q = F.normalize(query, dim=-1)  # (B, T, d)
        eta, theta, alpha = self.gate_values(gate_logits, token_mask)
        state, reads = self.initial_state(b), []
        for start in range(0, t, self.chunk):
            end = min(start + self.chunk, t)
            if start == 0:  # M_0 is shared by the batch: plain matmuls over all its rows
                reads.append(F.linear(F.silu(F.linear(q[:, :end], self.init_w1)), self.init_w2))
            else:
                reads.append(memory_read(state.w1, state.w2, q[:, start:end]))  # (B, C, d)
            if end < t:  # the last chunk's write would never be read
                span = slice(start, end)
                state = write_chunk(state, k[:, span], value[:, span], eta[:, span],
                                    theta[:, span], alpha[:, span], self.max_grad_norm,
                                    with_surprise=end + self.chunk < t)
        return torch.cat(reads, dim=1)  # (B, T, d)
