"""Causal sliding-window attention that always also sees the persistent-memory tokens.

Titans (arXiv:2501.00663) prepends ``N_p`` learnable persistent tokens to the sequence. Here
they are shared by all layers (one ``(N_p, d)`` parameter on the model, per the parameter
contract); each layer projects them with its own ``W_k`` / ``W_v``. They carry no position, so
RoPE rotates only the sequence queries and keys, and every query sees them at equal footing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from runtime.nn.inputs import fused_linear, fused_weight
from runtime.optim.qk_clip import max_logit_per_head


def sliding_window_mask(
    seq_len: int,
    window: int,
    n_persistent: int,
    key_padding: torch.Tensor | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Boolean attention mask, True where a query may attend.

    Query ``i`` sees sequence key ``j`` iff ``i - window < j <= i``, plus all persistent keys.
    Padding keys are hidden from every query but their own.

    Args:
        seq_len: Number of sequence positions ``T``.
        window: Sliding-window size ``w`` (the query itself counts).
        n_persistent: Number of persistent keys prepended before the sequence keys.
        key_padding: Optional ``(B, T)`` mask, 1 for real tokens, 0 for padding.
        device: Where to build the mask.

    Returns:
        ``(1, 1, T, N_p + T)`` or, with ``key_padding``, ``(B, 1, T, N_p + T)``.
    """
    pos = torch.arange(seq_len, device=device)
    delta = pos[:, None] - pos[None, :]  # (T, T) query minus key
    local = (delta >= 0) & (delta < window)
    persistent = torch.ones(seq_len, n_persistent, dtype=torch.bool, device=device)
    mask = torch.cat([persistent, local], dim=1)[None, None]  # (1, 1, T, N_p + T)
    if key_padding is not None:
        real = key_padding.to(torch.bool)  # (B, T)
        keep = torch.cat([real.new_ones(real.shape[0], n_persistent), real], dim=1)
        # a padded query still sees itself, so no row is all -inf (NaN would leak via 0 * NaN)
        own = torch.cat([persistent, delta == 0], dim=1)[None, None]  # (1, 1, T, N_p + T)
        mask = mask & (keep[:, None, None, :] | own)  # (B, 1, T, N_p + T)
    return mask


def rope_tables(
    positions: torch.Tensor, head_dim: int, theta: float, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine and sine tables for rotary embeddings.

    Args:
        positions: ``(T,)`` or ``(B, T)`` integer positions.
        head_dim: Size of one head (even).
        theta: RoPE base.
        dtype: Dtype of the returned tables.

    Returns:
        ``cos, sin`` of shape ``(..., T, head_dim / 2)``.
    """
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, device=positions.device) / head_dim)
    angles = positions.to(torch.float32)[..., None] * inv_freq  # (..., T, hd/2)
    return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (first half, second half) of the head dimension; x is (B, H, T, hd)."""
    if cos.dim() == 3:  # per-batch positions (B, T, hd/2) -> broadcast over heads
        cos, sin = cos[:, None], sin[:, None]
    x1, x2 = x.chunk(2, dim=-1)  # (B, H, T, hd/2) each
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


@dataclass
class AttentionContext:
    """What every attention layer of one forward shares: RoPE tables and the mask."""

    cos: torch.Tensor  # (T, hd/2) or (B, T, hd/2)
    sin: torch.Tensor
    mask: torch.Tensor  # (1 or B, 1, T, N_p + T), True where a query may attend


class SlidingWindowAttention(nn.Module):
    """Multi-head causal attention over a window of ``w`` tokens plus the persistent tokens."""

    def __init__(self, d_model: int, n_heads: int, window: int, rope_theta: float):
        super().__init__()
        self.n_heads, self.head_dim = n_heads, d_model // n_heads
        self.window, self.rope_theta = window, rope_theta
        self.q_proj = nn.Linear(d_model, d_model, bias=False)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)
        self.v_proj = nn.Linear(d_model, d_model, bias=False)
        self.o_proj = nn.Linear(d_model, d_model, bias=False)
        # QK-Clip bookkeeping: off until an optimiser asks for the model's QK-Clip targets
        self.record_max_logits = False
        self._max_logits: torch.Tensor | None = None

    def take_max_logits(self) -> torch.Tensor:
        """Per-head max pre-softmax logit over the training forwards since the last call
        (zeros when there were none), then reset: QK-Clip's ``max_logit_fn``."""
        found, self._max_logits = self._max_logits, None
        return found if found is not None else torch.zeros(self.n_heads)

    def _record(self, q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor) -> None:
        if self.record_max_logits and self.training:
            with torch.no_grad():  # a measurement: no graph for backward to carry
                found = max_logit_per_head(q, k, mask)  # (H,)
            self._max_logits = found if self._max_logits is None else torch.maximum(
                self._max_logits, found)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        *lead, t, _ = x.shape
        return x.view(*lead, t, self.n_heads, self.head_dim).transpose(-3, -2)  # (..., H, T, hd)

    def context(self, positions: torch.Tensor, n_persistent: int,
                key_padding: torch.Tensor | None, dtype: torch.dtype) -> AttentionContext:
        """RoPE tables and mask for ``positions`` ((T,) or (B, T)); one per forward suffices."""
        cos, sin = rope_tables(positions, self.head_dim, self.rope_theta, dtype)
        mask = sliding_window_mask(positions.shape[-1], self.window, n_persistent, key_padding,
                                   device=positions.device)
        return AttentionContext(cos, sin, mask)

    def forward(
        self,
        h: torch.Tensor,
        persistent: torch.Tensor,
        positions: torch.Tensor,
        key_padding: torch.Tensor | None = None,
        return_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Attend.

        Args:
            h: ``(B, T, d)`` normalised input.
            persistent: ``(N_p, d)`` persistent tokens (already normalised like ``h``).
            positions: ``(T,)`` or ``(B, T)`` RoPE positions.
            key_padding: Optional ``(B, T)`` mask, 0 marks padding keys.
            return_weights: Also return the ``(B, H, T, N_p + T)`` attention probabilities
                (computed explicitly instead of with the fused kernel; for tests and inspection).

        Returns:
            ``(B, T, d)`` output, and the weights when asked.
        """
        ctx = self.context(positions, persistent.shape[0], key_padding, h.dtype)
        fused = fused_weight((self.q_proj, self.k_proj, self.v_proj))
        return self.attend(fused_linear(self.q_proj, h, fused),
                           self.persistent_kv(persistent), ctx,
                           return_weights)

    def persistent_kv(self, persistent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values (1, H, N_p, hd) of the (N_p, d) persistent tokens, shared by every
        sequence of a batch (they carry no position, so RoPE leaves them alone)."""
        return self._heads(self.k_proj(persistent))[None], self._heads(self.v_proj(persistent))[None]

    def attend(
        self,
        qkv: torch.Tensor,
        persistent_kv: tuple[torch.Tensor, torch.Tensor],
        ctx: AttentionContext,
        return_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Attend from the projections ``[q | k | v]`` (B, T, 3d) of the input and the
        persistent tokens' :meth:`persistent_kv`; see ``forward``. Queries and keys are
        rotated in one call.
        """
        b, t, d3 = qkv.shape
        d, h = d3 // 3, self.n_heads
        heads = qkv.view(b, t, 3 * h, self.head_dim).transpose(1, 2)  # (B, 3H, T, hd)
        qk = apply_rope(heads[:, : 2 * h], ctx.cos, ctx.sin)  # (B, 2H, T, hd)
        q, k, v = qk[:, :h], qk[:, h:], heads[:, 2 * h :]  # (B, H, T, hd) each
        p_k, p_v = persistent_kv  # (1, H, N_p, hd) each
        shape = (b, h, p_k.shape[2], self.head_dim)
        k = torch.cat([p_k.expand(shape), k], dim=2)  # (B, H, N_p + T, hd)
        v = torch.cat([p_v.expand(shape), v], dim=2)
        self._record(q, k, ctx.mask)
        if return_weights:
            scores = q @ k.transpose(-1, -2) / self.head_dim**0.5  # (B, H, T, N_p + T)
            weights = scores.masked_fill(~ctx.mask, float("-inf")).softmax(dim=-1)
            out = weights @ v  # (B, H, T, hd)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=ctx.mask)  # (B, H, T, hd)
        out = self.o_proj(out.transpose(1, 2).reshape(b, t, d))  # (B, T, d)
        return (out, weights) if return_weights else out
