"""The BitNet b1.58 quantisers: ternary codes, per-token absmax, straight-through gradients."""

from __future__ import annotations

import torch

from runtime.bitnet.quantizers import (
    activation_ste,
    quantize_activations,
    ternary_ste,
    ternary_weight,
)
from runtime.formats.ternary import ternarize


def test_ternary_weight_is_gamma_times_codes_in_minus_one_zero_one():
    w = torch.randn(64, 48, generator=torch.Generator().manual_seed(0))
    q = ternary_weight(w)
    gamma = w.abs().mean()
    codes = q / gamma
    assert set(torch.unique(torch.round(codes)).tolist()) <= {-1.0, 0.0, 1.0}
    assert torch.allclose(codes, torch.round(codes), atol=1e-5)
    stored, stored_gamma = ternarize(w)  # the stored form gives the same weights
    assert torch.allclose(q, stored.float() * stored_gamma, atol=1e-6)
    zeros = float((torch.round(codes) == 0).float().mean())
    assert 0.27 < zeros < 0.35  # ~31% of Gaussian weights round to 0 (|w| < gamma / 2)


def test_the_ste_passes_gradients_through_unchanged():
    w = torch.randn(8, 5, requires_grad=True)
    (ternary_ste(w) * torch.arange(40.0).view(8, 5)).sum().backward()
    assert torch.equal(w.grad, torch.arange(40.0).view(8, 5))
    x = torch.randn(3, 7, requires_grad=True)
    activation_ste(x, 8).pow(2).sum().backward()
    assert torch.allclose(x.grad, 2 * quantize_activations(x, 8))  # d/dx of q(x)^2, q' = 1


def test_activations_are_quantised_per_token_within_half_a_step():
    x = torch.randn(4, 6, 32, generator=torch.Generator().manual_seed(1)) * torch.tensor(
        [0.01, 1.0, 100.0, 3.0]).view(4, 1, 1)
    for bits in (8, 4, 2):
        q = 2 ** (bits - 1) - 1
        step = x.abs().amax(dim=-1, keepdim=True) / q  # (4, 6, 1) one step per token
        xq = quantize_activations(x, bits)
        assert torch.all((xq - x).abs() <= step / 2 + 1e-6)
        levels = torch.round(xq / step)
        assert levels.min() >= -q - 1 and levels.max() <= q
        assert torch.allclose(levels, xq / step, atol=1e-3)  # on the grid
    assert torch.equal(quantize_activations(torch.zeros(2, 5), 8), torch.zeros(2, 5))
