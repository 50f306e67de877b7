"""Newton–Schulz orthogonalisation: the core of Muon (K. Jordan et al., 2024)."""

from __future__ import annotations

import torch

# Quintic coefficients (a, b, c) chosen by Jordan et al. to push every singular value
# of a Frobenius-normalised matrix towards 1 as fast as possible in 5 steps; they trade
# exact convergence (outputs land in about [0.7, 1.2]) for speed.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_STEPS = 5
NS_EPS = 1e-7  # guards the normalisation of an all-zero gradient


def orthogonalize(G: torch.Tensor, steps: int = NS_STEPS, eps: float = NS_EPS) -> torch.Tensor:
    """Approximate the orthogonal factor U Vᵀ of G = U S Vᵀ with the quintic Newton–Schulz map.

    X = G / (‖G‖_F + eps); the iteration runs on the wide orientation (rows ≤ cols) so
    that the Gram matrix X Xᵀ is the smaller one; each step is A = X Xᵀ,
    X = aX + (bA + cA²)X. The computation stays in G's dtype (fp32 on CPU, bf16 works
    on GPU), so callers choose the precision.

    Args:
        G: a matrix (m, n), or a batch (..., m, n) orthogonalised matrix by matrix.
        steps: number of Newton–Schulz iterations.
        eps: added to the Frobenius norm before dividing.

    Returns:
        A tensor shaped like G whose singular values are close to 1 (about [0.7, 1.2]).
    """
    if G.ndim < 2:
        raise ValueError(f"orthogonalize needs a matrix, got a tensor of shape {tuple(G.shape)}")
    a, b, c = NS_COEFFICIENTS
    X = G / (torch.linalg.matrix_norm(G, keepdim=True) + eps)  # (..., m, n)
    transposed = G.size(-2) > G.size(-1)
    if transposed:
        X = X.mT  # (..., n, m): now rows <= cols
    for _ in range(steps):
        A = X @ X.mT  # (..., r, r) with r = min(m, n)
        B = b * A + c * (A @ A)  # (..., r, r)
        X = a * X + B @ X  # (..., r, max(m, n))
    return X.mT if transposed else X
