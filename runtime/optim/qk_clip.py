"""QK-Clip (Kimi K2, arXiv:2507.20534): cap attention logits by rescaling W_q and W_k.

After each optimiser step, for every head h with S_h = max pre-softmax logit q·k/√d
over the last batch: γ = min(1, τ/S_h); if S_h > τ, the rows of W_q and W_k that
produce head h are scaled by √γ each, so that head's logits shrink by exactly γ.
Heads at or below τ are untouched (bit-identical).

Any attention module can take part through a :class:`QKClipTarget` adapter: it names
the q/k projection weights (``nn.Linear`` layout (out, in), head h = rows
h·head_dim … (h+1)·head_dim; views into a fused qkv weight work too) and a function
returning the per-head maximum logit the module recorded on its last forward pass
(see :func:`max_logit_per_head`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

QK_CLIP_TAU = 30.0  # the design's default; Kimi K2 uses 100


@dataclass
class QKClipTarget:
    """One attention module's q/k projections, as QK-Clip sees them.

    Attributes:
        q_weight: (n_heads·head_dim, d_model) query projection weight (or a view of it).
        k_weight: (n_kv_heads·head_dim, d_model) key projection weight (or a view of it).
        n_heads: number of query heads.
        head_dim: per-head dimension d.
        max_logit_fn: returns a (n_heads,) tensor, the max pre-softmax logit q·k/√d of
            each head over the last forward batch (masked positions excluded).
        n_kv_heads: key heads; None means n_heads. With grouped keys (n_kv_heads <
            n_heads) a key head is shared, so the whole γ goes to the query rows only
            and the shared key rows are never touched.
        q_bias: optional query bias, scaled with the query rows.
        k_bias: optional key bias, scaled with the key rows.
    """

    q_weight: torch.Tensor
    k_weight: torch.Tensor
    n_heads: int
    head_dim: int
    max_logit_fn: Callable[[], torch.Tensor]
    n_kv_heads: int | None = None
    q_bias: torch.Tensor | None = None
    k_bias: torch.Tensor | None = None


def max_logit_per_head(q: torch.Tensor, k: torch.Tensor,
                       mask: torch.Tensor | None = None) -> torch.Tensor:
    """The max pre-softmax logit q·k/√d of each head over a batch: what QK-Clip needs.

    Args:
        q: (B, H, T, d) queries.
        k: (B, H, S, d) keys.
        mask: optional boolean (T, S) or broadcastable mask, True where attention is allowed.

    Returns:
        A detached (H,) tensor.
    """
    logits = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))  # (B, H, T, S)
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    return logits.detach().amax(dim=(0, 2, 3))  # (H,)


class QKClip:
    """Applies QK-Clip to a set of targets after each optimiser step.

    Args:
        tau: the logit cap τ (> 0).
    """

    def __init__(self, tau: float = QK_CLIP_TAU) -> None:
        if tau <= 0:
            raise ValueError(f"qk_clip_tau must be > 0, got {tau}")
        self.tau = tau

    def head_scales(self, max_logits: torch.Tensor) -> torch.Tensor:
        """γ = min(1, τ/S) per head; heads with S ≤ τ get exactly 1."""
        s = max_logits.detach().float()
        return torch.where(s > self.tau, self.tau / s, torch.ones_like(s))  # (H,)

    @torch.no_grad()
    def apply(self, targets: Iterable[QKClipTarget]) -> list[torch.Tensor]:
        """Rescale the q/k rows of every head whose recorded max logit exceeds τ.

        Returns:
            One (n_heads,) tensor of γ per target (1.0 = untouched), for logging.
        """
        return [self._clip(t) for t in targets]

    def _clip(self, target: QKClipTarget) -> torch.Tensor:
        gamma = self.head_scales(target.max_logit_fn())  # (H,)
        if gamma.numel() != target.n_heads:
            raise ValueError(f"max_logit_fn returned {gamma.numel()} values for "
                             f"{target.n_heads} heads")
        n_kv = target.n_kv_heads or target.n_heads
        shared_keys = n_kv != target.n_heads
        for h in torch.nonzero(gamma < 1.0).flatten().tolist():
            g = gamma[h].item()
            q_factor = g if shared_keys else math.sqrt(g)
            _scale_head_rows(target.q_weight, target.q_bias, h, target.head_dim, q_factor)
            if not shared_keys:
                _scale_head_rows(target.k_weight, target.k_bias, h, target.head_dim,
                                 math.sqrt(g))
        return gamma


def _scale_head_rows(weight: torch.Tensor, bias: torch.Tensor | None, head: int,
                     head_dim: int, factor: float) -> None:
    """Scale one head's rows (and bias entries) in place."""
    rows = slice(head * head_dim, (head + 1) * head_dim)
    weight[rows].mul_(factor)
    if bias is not None:
        bias[rows].mul_(factor)
