"""Muon update rule: momentum, Nesterov, orthogonalised step, scale and decoupled decay."""

import math

import pytest
import torch
from torch import nn

from runtime.optim.muon import Muon, update_scale
from runtime.optim.newton_schulz import orthogonalize


def _reference_steps(W, grads, lr, beta, wd, nesterov):
    """Muon written out from REFERENCES.md, independent of the implementation."""
    W, m = W.clone(), torch.zeros_like(W)
    for g in grads:
        m = beta * m + (1 - beta) * g
        u = (1 - beta) * g + beta * m if nesterov else m
        O = orthogonalize(u) * math.sqrt(max(1.0, W.size(0) / W.size(1)))  # noqa: E741
        W = W * (1 - lr * wd) - lr * O
    return W


@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("shape", [(16, 8), (8, 16)])
def test_matches_reference_formula(nesterov, shape):
    gen = torch.Generator().manual_seed(0)
    W0 = torch.randn(*shape, generator=gen)
    grads = [torch.randn(*shape, generator=gen) for _ in range(4)]
    p = nn.Parameter(W0.clone())
    opt = Muon([p], lr=0.02, momentum=0.95, nesterov=nesterov, weight_decay=0.1,
               ns_dtype="float32")  # the reference runs NS in fp32
    for g in grads:
        p.grad = g.clone()
        opt.step()
    expected = _reference_steps(W0, grads, 0.02, 0.95, 0.1, nesterov)
    torch.testing.assert_close(p.data, expected, atol=1e-6, rtol=1e-5)


def test_update_has_orthogonal_structure():
    # One step from zero momentum: the update is lr·scale·NS(g), singular values ≈ lr·scale.
    p = nn.Parameter(torch.zeros(32, 16))
    p.grad = torch.randn(32, 16, generator=torch.Generator().manual_seed(1))
    Muon([p], lr=0.1).step()
    s = torch.linalg.svdvals(-p.data) / (0.1 * math.sqrt(2.0))
    assert 0.4 <= s.min() and s.max() <= 1.25


def test_scales():
    assert update_scale(64, 16) == 2.0  # sqrt(max(1, 64/16))
    assert update_scale(16, 64) == 1.0
    assert update_scale(100, 25, "moonlight") == pytest.approx(0.2 * 10.0)
    with pytest.raises(ValueError, match="unknown Muon scale"):
        update_scale(4, 4, "adam")


def test_rejects_vectors():
    with pytest.raises(ValueError, match="AdamW"):
        Muon([nn.Parameter(torch.ones(4))])


def test_bfloat16_newton_schulz_stays_close_to_float32():
    """bf16 NS (the Muon reference's precision) moves the result far less than NS itself
    differs from the exact orthogonal factor U V^T."""
    g = torch.randn(6, 64, 96, generator=torch.Generator().manual_seed(2))
    exact = orthogonalize(g)
    fast = orthogonalize(g, dtype=torch.bfloat16)
    assert fast.dtype == torch.float32
    u, _, vh = torch.linalg.svd(g, full_matrices=False)
    polar = u @ vh

    def rel(a, b):
        return float((a - b).norm() / b.norm())

    assert rel(fast, exact) < 0.06
    assert rel(fast, exact) < 0.5 * rel(exact, polar)
    s = torch.linalg.svdvals(fast)
    assert 0.6 <= s.min() and s.max() <= 1.2


def test_ns_dtype_setting():
    from runtime.optim.newton_schulz import _cpu_has_native_bf16, ns_dtype

    assert ns_dtype("float32", "cpu") == torch.float32
    assert ns_dtype("bfloat16", "cpu") == torch.bfloat16
    native = torch.bfloat16 if _cpu_has_native_bf16() else torch.float32
    assert ns_dtype("auto", "cpu") == native
    with pytest.raises(ValueError, match="ns_dtype"):
        Muon([nn.Parameter(torch.ones(4, 4))], ns_dtype="float16")


def test_group_update_equals_one_matrix_at_a_time():
    """Muon on a group (batched NS, tall and wide matrices in one batch) gives what
    muon_update_ gives for each matrix alone, to float rounding."""
    from runtime.optim.muon import muon_group_update_, muon_update_

    gen = torch.Generator().manual_seed(3)
    shapes = [(8, 16), (16, 8), (8, 16), (4, 2, 3)]
    group = dict(lr=0.02, momentum=0.95, nesterov=True, ns_steps=5, ns_dtype="float32",
                 weight_decay=0.1, scale="jordan")
    params = [nn.Parameter(torch.randn(s, generator=gen)) for s in shapes]
    alone = [nn.Parameter(p.detach().clone()) for p in params]
    buffers = [torch.zeros(s) for s in shapes]
    states = {p: {} for p in params}
    for _ in range(3):
        for p, q, buf in zip(params, alone, buffers, strict=True):
            p.grad = torch.randn(p.shape, generator=gen)
            q.grad = p.grad.clone()
            muon_update_(q.data, q.grad, buf, lr=0.02, momentum=0.95, nesterov=True,
                         ns_steps=5, weight_decay=0.1, scale="jordan")
        muon_group_update_(params, states, group)
    for p, q in zip(params, alone, strict=True):
        torch.testing.assert_close(p.data, q.data, atol=1e-6, rtol=1e-5)
