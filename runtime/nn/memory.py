"""Titans neural memory (Behrouz, Zhong, Mirrokni, arXiv:2501.00663): one layer's module.

The update rule, its chunked closed form and its causality are in ``memory_rule``; the module
evaluates them in dual form (``memory_dual``), which never builds per-sequence weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from runtime.nn.memory_dual import DualMemory

# Gate biases at initialisation (our choice): momentum eta ~ 0.5, write rate theta ~ 0.05,
# forgetting alpha ~ 0.02, so early writes are small and the memory does not blow up.
GATE_BIAS_INIT = (0.0, -3.0, -4.0)



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

    def writes(self, seq_len: int) -> bool:
        """Whether a sequence of ``seq_len`` tokens writes the memory: only one longer than a
        chunk does (the last chunk's write would never be read)."""
        return seq_len > self.chunk

    def read_write(self, key: torch.Tensor | None, value: torch.Tensor | None,
                   query: torch.Tensor, gate_logits: torch.Tensor | None,
                   token_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``forward`` from the projections ``key, value, query`` (B, T, d) and ``gates(h)``.

        A sequence of at most one chunk only reads ``M_0``: its key, value and gate logits
        are not used and may be None.
        """
        t = query.shape[1]
        q = F.normalize(query, dim=-1)  # (B, T, d)
        memory = DualMemory(self.init_w1, self.init_w2)
        if not self.writes(t):  # one chunk: it reads M_0
            return memory.read(q)
        k = F.normalize(key, dim=-1)  # (B, T, d) unit keys, as in Titans
        eta, theta, alpha = self.gate_values(gate_logits, token_mask)
        reads = []
        for start in range(0, t, self.chunk):
            end = min(start + self.chunk, t)
            reads.append(memory.read(q[:, start:end]))  # (B, C, d)
            if end < t:  # the last chunk's write would never be read
                span = slice(start, end)
                memory = memory.write(k[:, span], value[:, span], eta[:, span], theta[:, span],
                                      alpha[:, span], self.max_grad_norm,
                                      with_surprise=end + self.chunk < t)
        return torch.cat(reads, dim=1)  # (B, T, d)
