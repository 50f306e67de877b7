"""Newton–Schulz orthogonalisation: the core of Muon (K. Jordan et al., 2024)."""

from __future__ import annotations

import functools

import torch

# Quintic coefficients (a, b, c) chosen by Jordan et al. to push every singular value
# of a Frobenius-normalised matrix towards 1 as fast as possible in 5 steps; they trade
# exact convergence (outputs land in about [0.7, 1.2]) for speed.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_STEPS = 5
NS_EPS = 1e-7  # guards the normalisation of an all-zero gradient
NS_DTYPES = ("auto", "float32", "bfloat16")


@functools.cache
def _cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX); else bf16 is slow."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def ns_dtype(setting: str, device: torch.device | str) -> torch.dtype:
    """The dtype Newton–Schulz runs in on ``device`` for a ``ns_dtype`` setting.

    ``auto`` is bfloat16, the Muon reference's precision, where the device multiplies bf16
    natively (a bf16-capable GPU; a CPU with AVX512-BF16 or AMX: about 3x fp32's matmul
    rate there), and float32 elsewhere. The iteration is self-correcting and its output only
    needs singular values near 1, so bf16 costs no accuracy that matters (tested).
    """
    if setting not in NS_DTYPES:
        raise ValueError(f"ns_dtype must be one of {NS_DTYPES}, got {setting!r}")
    if setting != "auto":
        return getattr(torch, setting)
    device = torch.device(device)
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported()
    else:
        native = device.type == "cpu" and _cpu_has_native_bf16()
    return torch.bfloat16 if native else torch.float32


def orthogonalize(G: torch.Tensor, steps: int = NS_STEPS, eps: float = NS_EPS,
                  dtype: torch.dtype | None = None) -> torch.Tensor:
    """Approximate the orthogonal factor U Vᵀ of G = U S Vᵀ with the quintic Newton–Schulz map.

    X = G / (‖G‖_F + eps); the iteration runs on the wide orientation (rows ≤ cols) so
    that the Gram matrix X Xᵀ is the smaller one; each step is A = X Xᵀ,
    X = aX + (bA + cA²)X. The computation runs in ``dtype`` (default: G's own; see
    ``ns_dtype``) and the result comes back in G's dtype.

    Args:
        G: a matrix (m, n), or a batch (..., m, n) orthogonalised matrix by matrix.
        steps: number of Newton–Schulz iterations.
        eps: added to the Frobenius norm before dividing.
        dtype: the precision of the iteration; None keeps G's.

    Returns:
        A tensor shaped like G whose singular values are close to 1 (about [0.7, 1.2]).
    """
    if G.ndim < 2:
        raise ValueError(f"orthogonalize needs a matrix, got a tensor of shape {tuple(G.shape)}")
    a, b, c = NS_COEFFICIENTS
    X = (G / (torch.linalg.matrix_norm(G, keepdim=True) + eps)).to(dtype or G.dtype)  # (..., m, n)
    X = X.reshape(-1, *G.shape[-2:])  # (N, m, n): baddbmm wants one batch dimension
    transposed = G.size(-2) > G.size(-1)
    if transposed:
        X = X.mT  # (N, n, m): now rows <= cols
    for _ in range(steps):
        A = X @ X.mT  # (N, r, r) with r = min(m, n)
        B = torch.baddbmm(A, A, A, beta=b, alpha=c)  # b A + c A A, one fused call
        X = torch.baddbmm(X, B, X, beta=a)  # a X + B X: (N, r, max(m, n))
    return (X.mT if transposed else X).reshape(G.shape).to(G.dtype)
