"""Newton–Schulz properties from REFERENCES.md (Optimiser: MuGrokfast, Muon)."""

import pytest
import torch

from runtime.optim.newton_schulz import orthogonalize

SHAPES = [(32, 64), (64, 32), (48, 48), (8, 128), (100, 30)]


def _gaussian(shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen)


@pytest.mark.parametrize("shape", SHAPES)
def test_singular_values_land_near_one(shape):
    s = torch.linalg.svdvals(orthogonalize(_gaussian(shape)))
    assert s.min() >= 0.4, s.min()
    assert s.max() <= 1.25, s.max()


@pytest.mark.parametrize("c", [1e-4, 0.3, 7.0, 1e4])
def test_scale_invariant(c):
    G = _gaussian((24, 40), seed=1)
    torch.testing.assert_close(orthogonalize(c * G), orthogonalize(G), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("shape", SHAPES)
def test_transpose_equivariant(shape):
    G = _gaussian(shape, seed=2)
    torch.testing.assert_close(orthogonalize(G.T), orthogonalize(G).T, atol=1e-4, rtol=1e-4)


def test_close_to_exact_polar_factor_when_well_conditioned():
    gen = torch.Generator().manual_seed(3)
    U, _ = torch.linalg.qr(torch.randn(32, 32, generator=gen))
    V, _ = torch.linalg.qr(torch.randn(64, 32, generator=gen))
    s = torch.linspace(1.0, 3.0, 32)  # condition number 3
    G = U @ torch.diag(s) @ V.T  # (32, 64)
    exact = U @ V.T
    cosine = torch.nn.functional.cosine_similarity(
        orthogonalize(G).flatten(), exact.flatten(), dim=0)
    assert cosine > 0.95, cosine


def test_zero_matrix_stays_finite():
    out = orthogonalize(torch.zeros(4, 6))
    assert torch.isfinite(out).all() and out.abs().max() == 0


def test_batched_matches_per_matrix():
    G = _gaussian((3, 16, 24), seed=4)
    batched = orthogonalize(G)
    for i in range(3):
        torch.testing.assert_close(batched[i], orthogonalize(G[i]), atol=1e-5, rtol=1e-5)


def test_rejects_vectors():
    with pytest.raises(ValueError, match="matrix"):
        orthogonalize(torch.ones(5))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_bf16_on_gpu_matches_fp32():
    G = _gaussian((128, 256), seed=5).cuda()
    out = orthogonalize(G.bfloat16())
    assert out.dtype == torch.bfloat16
    s = torch.linalg.svdvals(out.float())
    assert s.min() >= 0.4 and s.max() <= 1.3
    cosine = torch.nn.functional.cosine_similarity(
        out.float().flatten(), orthogonalize(G).flatten(), dim=0)
    assert cosine > 0.99
