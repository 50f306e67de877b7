"""Weighted k-means, deterministic: seeded initial centroids, fixed iteration count.

VPTQ's codebooks (arXiv:2409.17066) are k-means centroids of weight vectors, each vector
weighted by the Hessian diagonal of its column, so the columns the calibration inputs
use most are fitted best. Nearest-centroid search runs in chunks that bound memory.
"""

from __future__ import annotations

import torch

CHUNK_ELEMENTS = 1 << 22  # vectors x centroids distances per step (~16 MB)


def nearest(vectors: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Index (N,) of the nearest centroid (k, v) of each vector (N, v); ties: lowest index."""
    out = torch.empty(vectors.shape[0], dtype=torch.int64)
    half_norms = 0.5 * centroids.pow(2).sum(dim=1)  # (k,)
    step = max(1, CHUNK_ELEMENTS // max(1, centroids.shape[0]))
    for start in range(0, vectors.shape[0], step):
        chunk = vectors[start:start + step]  # (n, v)
        # argmin ||x - c||² = argmin (||c||²/2 - x·c): the ||x||² term is the same for all c
        out[start:start + step] = (half_norms - chunk @ centroids.T).argmin(dim=1)
    return out


def kmeans(vectors: torch.Tensor, weights: torch.Tensor, k: int, iters: int,
           seed: int) -> torch.Tensor:
    """``min(k, N)`` centroids (k', v) of ``vectors`` (N, v) under ``weights`` (N,) ≥ 0.

    Initial centroids: ``k`` distinct vectors drawn with ``seed``; each iteration assigns
    every vector to its nearest centroid, then moves each centroid to the weighted mean
    of its vectors (a centroid without vectors stays where it was).
    """
    generator = torch.Generator().manual_seed(seed)
    k = min(k, vectors.shape[0])
    centroids = vectors[torch.randperm(vectors.shape[0], generator=generator)[:k]].clone()
    weights = weights.clamp(min=0).to(vectors.dtype)  # (N,)
    for _ in range(iters):
        assign = nearest(vectors, centroids)  # (N,)
        mass = torch.zeros(k, dtype=vectors.dtype).index_add_(0, assign, weights)  # (k,)
        sums = torch.zeros_like(centroids).index_add_(0, assign, vectors * weights[:, None])
        filled = mass > 0
        centroids[filled] = sums[filled] / mass[filled, None]
    return centroids
