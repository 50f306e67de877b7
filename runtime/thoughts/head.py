"""The mixing head: how much of the with-thought prediction to use, per predicted token.

``w = tanh(MLP([h_base; h_thought]))``; mixed logits ``= base + w (thought - base)``.
The MLP's last layer starts at zero, so ``w = 0`` and the mixed output equals the base
model's until training moves it (the paper's requirement). Mixing logits and mixing
log-probabilities give the same distribution (they differ by a constant per position).
``w`` may become negative (moving away from the thought's prediction); the phase
records where it went (``mixing_weight``).
"""

from __future__ import annotations

import torch
from torch import nn


class MixingHead(nn.Module):
    """MLP ``2d -> hidden -> 1`` with a zero-initialised output layer."""

    def __init__(self, d_model: int, hidden: int | None = None):
        super().__init__()
        self.d_model, self.hidden = d_model, hidden or d_model
        self.inner = nn.Linear(2 * d_model, self.hidden)
        self.outer = nn.Linear(self.hidden, 1)
        nn.init.zeros_(self.outer.weight)
        nn.init.zeros_(self.outer.bias)

    def weight(self, h_base: torch.Tensor, h_thought: torch.Tensor) -> torch.Tensor:
        """Mixing weights ``(...)`` of hidden states ``(..., d)``."""
        z = self.outer(torch.relu(self.inner(torch.cat([h_base, h_thought], dim=-1))))
        return torch.tanh(z.squeeze(-1))

    def forward(self, base_logits: torch.Tensor, thought_logits: torch.Tensor,
                h_base: torch.Tensor, h_thought: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mixed logits (..., V), weights (...))``."""
        w = self.weight(h_base, h_thought)
        mixed = base_logits + w.unsqueeze(-1).to(base_logits.dtype) * (thought_logits - base_logits)
        return mixed, w
