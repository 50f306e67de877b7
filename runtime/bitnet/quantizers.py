"""The BitNet b1.58 quantisers, with the straight-through estimator (STE).

- weights: ``gamma = mean|W|``; ``W~ = clip(round(W / (gamma + eps)), -1, 1)``; the layer
  computes with ``gamma * W~`` (``runtime.formats.ternary.ternarize`` gives the codes);
- activations, per token: ``s = Q / max|x_t|`` with ``Q = 2^(bits-1) - 1``;
  ``x^ = clip(round(x s), -Q - 1, Q) / s``.

STE: the forward uses the quantised value, the backward passes the gradient through as if
the quantiser were the identity (``x + (q(x) - x).detach()``), so the optimiser updates the
full-precision latent weights.
"""

from __future__ import annotations

import torch

EPS = 1e-8  # keeps gamma + eps > 0 for an all-zero matrix
ACTIVATION_EPS = 1e-5  # a token of zeros stays zeros instead of dividing by 0


def absmean_codes(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """BitNet b1.58's absmean quantiser: codes in {-1, 0, 1} (``weight``'s dtype) and gamma
    (0-d); the stored form (``runtime.formats.ternary.ternarize``) uses it too."""
    w = weight.detach()
    gamma = w.abs().mean()
    return torch.clamp(torch.round(w / (gamma + EPS)), -1, 1), gamma


def ternary_valued(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(sign codes as int8, g) of a weight holding only 0 and +-g (g > 0, some zeros), else
    None: a matrix that is already ternary. The absmean quantiser would give it the same
    codes but the scale g x (share of nonzeros), a different function (without zeros it
    gives the matrix back already)."""
    w = weight.detach()
    magnitudes = w.abs()
    nonzero = magnitudes[magnitudes != 0]
    if nonzero.numel() in (0, w.numel()) or not bool((nonzero == nonzero[0]).all()):
        return None
    return torch.sign(w).to(torch.int8), nonzero[0].float().clone()


def ternary_weight(weight: torch.Tensor) -> torch.Tensor:
    """``gamma * W~`` (same shape and dtype), no gradient path."""
    codes, gamma = absmean_codes(weight)
    return codes * gamma


def ternary_ste(weight: torch.Tensor) -> torch.Tensor:
    """The ternary weight in the forward, the identity in the backward."""
    return weight + (ternary_weight(weight) - weight).detach()


def quantize_activations(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-token (last dimension) absmax quantisation to ``bits``, dequantised; no gradient."""
    q = 2 ** (bits - 1) - 1
    x = x.detach()
    scale = q / x.abs().amax(dim=-1, keepdim=True).clamp(min=ACTIVATION_EPS)  # (..., 1)
    return torch.clamp(torch.round(x * scale), -q - 1, q) / scale


def activation_ste(x: torch.Tensor, bits: int) -> torch.Tensor:
    """The quantised activations in the forward, the identity in the backward."""
    return x + (quantize_activations(x, bits) - x).detach()
