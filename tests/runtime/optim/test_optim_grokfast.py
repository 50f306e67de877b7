"""Grokfast properties from REFERENCES.md: constant g -> (1+λ)g, alternating ±g -> μ ≈ 0."""

import pytest
import torch
from torch import nn

from runtime.optim.grokfast import GrokfastEMA, GrokfastMA, ema_filter_


def _param_with_grad(grad):
    p = nn.Parameter(torch.zeros_like(grad))
    p.grad = grad.clone()
    return p


@pytest.mark.parametrize("lamb", [0.3, 2.0, 5.0])
def test_constant_gradient_becomes_one_plus_lambda_times_g(lamb):
    g = torch.tensor([1.0, -2.0, 0.5])
    grokfast = GrokfastEMA(alpha=0.98, lamb=lamb)
    for _ in range(20):
        p = _param_with_grad(g)
        grokfast.apply([("w", p)])
        torch.testing.assert_close(p.grad, (1 + lamb) * g)


def test_alternating_gradient_leaves_average_near_zero():
    g = torch.tensor([1.0, -2.0, 0.5])
    grokfast = GrokfastEMA(alpha=0.98, lamb=2.0)
    for t in range(600):
        grokfast.apply([("w", _param_with_grad(g if t % 2 == 0 else -g))])
    # The steady-state oscillation is (1-α)/(1+α) ≈ 1% of |g|.
    assert grokfast.mu["w"].abs().max() < 0.02 * g.abs().max()


def test_amplifies_slow_not_fast_component():
    slow, fast = torch.tensor([1.0]), torch.tensor([3.0])
    grokfast = GrokfastEMA(alpha=0.98, lamb=2.0)
    for t in range(600):
        p = _param_with_grad(slow + (fast if t % 2 else -fast))
        grokfast.apply([("w", p)])
    # Filtered gradient ≈ g + λ·slow: the mean over a ± pair is (1 + λ)·slow.
    assert abs(grokfast.mu["w"].item() - slow.item()) < 0.1


def test_first_call_starts_average_at_gradient():
    g = torch.tensor([4.0])
    mu = ema_filter_(g, None, alpha=0.5, lamb=1.0)
    assert mu.item() == 4.0 and g.item() == 8.0


def test_skips_parameters_without_gradient_and_accepts_modules():
    model = nn.Linear(3, 2)
    model(torch.ones(1, 3)).sum().backward()
    model.bias.grad = None
    grokfast = GrokfastEMA()
    grokfast.apply(model)
    assert set(grokfast.mu) == {"weight"}


def test_ema_state_round_trips():
    grokfast = GrokfastEMA(alpha=0.9, lamb=1.5)
    grokfast.apply([("w", _param_with_grad(torch.tensor([1.0, 2.0])))])
    restored = GrokfastEMA()
    restored.load_state_dict(grokfast.state_dict())
    assert (restored.alpha, restored.lamb) == (0.9, 1.5)
    torch.testing.assert_close(restored.mu["w"], grokfast.mu["w"], rtol=0, atol=0)


def test_ma_waits_for_a_full_window_then_adds_lambda_mean():
    grokfast = GrokfastMA(window=3, lamb=5.0)
    grads = [torch.tensor([1.0]), torch.tensor([2.0]), torch.tensor([6.0])]
    seen = []
    for g in grads:
        p = _param_with_grad(g)
        grokfast.apply([("w", p)])
        seen.append(p.grad.item())
    assert seen[:2] == [1.0, 2.0]  # window not yet full: untouched
    assert seen[2] == pytest.approx(6.0 + 5.0 * 3.0)  # mean(1, 2, 6) = 3


def test_ma_state_round_trips():
    grokfast = GrokfastMA(window=2, lamb=5.0)
    grokfast.apply([("w", _param_with_grad(torch.tensor([1.0])))])
    restored = GrokfastMA()
    restored.load_state_dict(grokfast.state_dict())
    p = _param_with_grad(torch.tensor([3.0]))
    restored.apply([("w", p)])
    assert p.grad.item() == pytest.approx(3.0 + 5.0 * 2.0)


def test_rejects_bad_settings():
    with pytest.raises(ValueError):
        GrokfastEMA(alpha=1.0)
    with pytest.raises(ValueError):
        GrokfastMA(window=0)


def test_filtering_many_at_once_equals_one_at_a_time():
    """ema_filter_many_ (foreach ops) gives each tensor exactly what ema_filter_ gives it,
    with first calls (no average yet) and running averages mixed in one batch."""
    from runtime.optim.grokfast import ema_filter_many_

    gen = torch.Generator().manual_seed(0)
    grads = [torch.randn(shape, generator=gen) for shape in [(3, 4), (5,), (2, 2, 2)]]
    mus = [None, torch.randn(5, generator=gen), torch.randn(2, 2, 2, generator=gen)]
    expected_grads = [g.clone() for g in grads]
    expected_mus = [ema_filter_(g, None if m is None else m.clone(), 0.9, 1.5)
                    for g, m in zip(expected_grads, mus, strict=True)]
    got_mus = ema_filter_many_(grads, [None if m is None else m.clone() for m in mus], 0.9, 1.5)
    for got, want in zip(grads + got_mus, expected_grads + expected_mus, strict=True):
        assert torch.equal(got, want)
    assert not torch.equal(grads[1], expected_grads[1] * 0)  # the filter did change them
