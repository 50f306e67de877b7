"""A tiny causal attention block that records per-head max logits, for QK-Clip tests."""

import torch
from torch import nn

from runtime.optim.qk_clip import QKClipTarget, max_logit_per_head


class TinyAttention(nn.Module):
    """Multi-head causal self-attention with separate q/k/v projections (optional bias)."""

    def __init__(self, d_model=16, n_heads=4, bias=False):
        super().__init__()
        self.n_heads, self.head_dim = n_heads, d_model // n_heads
        self.q = nn.Linear(d_model, d_model, bias=bias)
        self.k = nn.Linear(d_model, d_model, bias=bias)
        self.v = nn.Linear(d_model, d_model, bias=bias)
        self.last_max_logits = torch.zeros(n_heads)

    def _heads(self, x):
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, hd)

    def forward(self, x):  # x: (B, T, d)
        q, k, v = self._heads(self.q(x)), self._heads(self.k(x)), self._heads(self.v(x))
        T = x.size(1)
        causal = torch.ones(T, T, dtype=torch.bool).tril()  # (T, T)
        self.last_max_logits = max_logit_per_head(q, k, causal)  # (H,)
        out = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return out.transpose(1, 2).reshape_as(x)  # (B, T, d)

    def qk_clip_targets(self):
        return [QKClipTarget(self.q.weight, self.k.weight, self.n_heads, self.head_dim,
                             lambda: self.last_max_logits, q_bias=self.q.bias,
                             k_bias=self.k.bias)]
