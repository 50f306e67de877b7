"""The Titans memory in dual form: ``M_0`` plus the tokens written so far.

A token's gradient is a pair of rank-1 matrices, ``d_u_i k_i^T`` into ``W1`` and
``err_i act_i^T`` into ``W2`` (``memory_rule``), and the surprise/forgetting recurrence only
rescales what was written. So after any number of chunk writes::

    W1 = a W1_0 + sum_i mu_i d_u_i k_i^T        W2 = a W2_0 + sum_i mu_i err_i act_i^T
    S  =          sum_i sigma_i (d_u_i k_i^T, err_i act_i^T)

with one scalar ``a`` per sequence and two scalars ``mu_i, sigma_i`` per written token.
Applying the memory to ``x`` then needs ``x``'s dot products with the written keys and
activations, the "dual form" of test-time training (Sun et al., arXiv:2407.04620), and the
per-sequence ``(B, h, d)`` weights are never built: a chunk costs ``C * N * (d + h)`` for
``N`` written tokens instead of ``C * h * d``, and autograd's backward touches ``(B, C, N)``
tensors, not ``(B, h, d)`` ones. ``memory_rule.write_chunk`` is the same rule with the
weights built; a test holds the two equal, outputs and gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from runtime.nn.memory_rule import chunk_coefficients, clip_scale, silu_slope


@dataclass
class DualMemory:
    """One layer's memory for a batch: shared ``M_0`` and the written tokens.

    Attributes:
        w1_0, w2_0: ``(h, d)`` and ``(d, h)`` initial weights, shared by the batch.
        a: ``(B, 1, 1)`` scale of ``M_0``; None is 1 (nothing written yet).
        keys, d_u, act, err: ``(B, N, d)``, ``(B, N, h)``, ``(B, N, h)``, ``(B, N, d)`` of
            the ``N`` written tokens, each taken at the memory of its chunk's start.
        mu, sigma: ``(B, N)`` their coefficients in the memory and in the surprise
            (None: zero surprise).
    """

    w1_0: torch.Tensor
    w2_0: torch.Tensor
    a: torch.Tensor | None = None
    keys: torch.Tensor | None = None
    d_u: torch.Tensor | None = None
    act: torch.Tensor | None = None
    err: torch.Tensor | None = None
    mu: torch.Tensor | None = None
    sigma: torch.Tensor | None = None

    def _mix(self, base: torch.Tensor, x: torch.Tensor, rows: torch.Tensor,
             out: torch.Tensor) -> torch.Tensor:
        """``a * base + ((x rows^T) * mu) out``: the ``M_0`` term plus the written tokens'."""
        if self.keys is None:
            return base
        scores = torch.bmm(x, rows.transpose(1, 2)) * self.mu[:, None, :]  # (B, C, N)
        return torch.baddbmm(base * self.a, scores, out)

    def first_layer(self, x: torch.Tensor) -> torch.Tensor:
        """``W1 x`` row-wise: (B, C, d) -> (B, C, h)."""
        return self._mix(F.linear(x, self.w1_0), x, self.keys, self.d_u)

    def second_layer(self, hidden: torch.Tensor) -> torch.Tensor:
        """``W2 hidden`` row-wise: (B, C, h) -> (B, C, d)."""
        return self._mix(F.linear(hidden, self.w2_0), hidden, self.act, self.err)

    def second_layer_transposed(self, e: torch.Tensor) -> torch.Tensor:
        """``W2^T e`` row-wise: (B, C, d) -> (B, C, h)."""
        return self._mix(e @ self.w2_0, e, self.err, self.act)

    def read(self, x: torch.Tensor) -> torch.Tensor:
        """``M(x) = W2 silu(W1 x)`` row-wise: (B, C, d) -> (B, C, d)."""
        return self.second_layer(F.silu(self.first_layer(x)))

    def write(self, k: torch.Tensor, v: torch.Tensor, eta: torch.Tensor, theta: torch.Tensor,
              alpha: torch.Tensor, max_grad_norm: float | None = None,
              with_surprise: bool = True) -> DualMemory:
        """The memory after writing one chunk; arguments as ``memory_rule.write_chunk``."""
        u = self.first_layer(k)  # (B, C, h)
        sig = torch.sigmoid(u)
        act = u * sig
        err = 2.0 * (self.second_layer(act) - v)  # (B, C, d)
        d_u = self.second_layer_transposed(err) * silu_slope(sig, act)  # (B, C, h)
        co = chunk_coefficients(eta, theta, alpha, with_surprise)
        grads = co.grads  # (B, C, 1 or 2)
        if max_grad_norm is not None:
            grads = grads * clip_scale(err, act, d_u, k, max_grad_norm)[..., None]
        if self.keys is None:
            return DualMemory(self.w1_0, self.w2_0, co.decay, k, d_u, act, err, grads[..., 0],
                              grads[..., 1] if with_surprise else None)
        mu = self.mu * co.decay[:, 0]
        if self.sigma is not None:
            mu = mu + self.sigma * co.carry[:, 0]
        sigma = None
        if with_surprise:
            old = self.sigma * co.momentum[:, 0] if self.sigma is not None else torch.zeros_like(mu)
            sigma = torch.cat([old, grads[..., 1]], dim=1)

        def grow(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
            return torch.cat([old, new], dim=1)

        return DualMemory(self.w1_0, self.w2_0, self.a * co.decay, grow(self.keys, k),
                          grow(self.d_u, d_u), grow(self.act, act), grow(self.err, err),
                          grow(mu, grads[..., 0]), sigma)
