"""VPTQ (Liu et al., arXiv:2409.17066): vectors of v weights as indices into a codebook.

Each matrix W (out, in) is divided by its RMS (one float32 scale a matrix, stored) and
cut into vectors of v consecutive rows of one column (rows zero-padded to a multiple of
v). The codebook is a k-means of all the model's vectors, each weighted by the Hessian
diagonal H_jj of its column (H = 2XXᵀ/n from calibration inputs); an optional residual
codebook is a k-means of what the main codebook leaves. Both are shared by every matrix
of the stage and stored once (float16). Then each matrix is quantised column by column
with GPTQ's error feedback: the error of column j, divided by the Cholesky factor of
H⁻¹ at (j, j), is spread over the columns not yet quantised, so later columns make up
for it (lazy batch updates of 128 columns, as GPTQ).

Bits per weight: ceil(log2 k) / v (+ ceil(log2 k_res) / v), plus the codebooks and one
scale a matrix, all counted in the bytes on disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from runtime.compression.bitpack import pack_bits, packed_bytes, unpack_bits
from runtime.compression.codes import LayerCode, Layout, meta_int
from runtime.compression.kmeans import kmeans, nearest

BLOCK_COLUMNS = 128  # GPTQ's lazy-batch width
DAMP = 0.01  # H + DAMP * mean(diag H) I, as GPTQ, so H is invertible


@dataclass(frozen=True)
class VptqSpec:
    """VPTQ settings: v, k, k_res (0: none) and k-means iterations."""

    vector_len: int = 8
    codebook: int = 65_536
    residual: int = 0
    kmeans_iters: int = 10


@dataclass(frozen=True)
class Codebooks:
    """The stage's shared codebooks: main (k, v) and residual (k_res, v) or None."""

    main: torch.Tensor
    residual: torch.Tensor | None


def index_bits(k: int) -> int:
    """Bits of an index into ``k`` centroids."""
    return max(1, math.ceil(math.log2(k)))


def padded_rows(rows: int, v: int) -> int:
    return math.ceil(rows / v) * v


def layout(meta: dict, shape: tuple[int, int]) -> Layout:
    """The scale and the packed (residual) indices of a matrix of ``shape``."""
    v = meta_int(meta, "vector_len", 1, 64)
    count = shape[1] * padded_rows(shape[0], v) // v
    out = {"scale": ((), torch.float32),
           "indices": ((packed_bytes(count, meta_int(meta, "index_bits", 1, 20)),), torch.uint8)}
    if meta.get("residual_bits"):
        bits = meta_int(meta, "residual_bits", 1, 20)
        out["residual_indices"] = ((packed_bytes(count, bits),), torch.uint8)
    return out


def column_vectors(weight: torch.Tensor, v: int) -> torch.Tensor:
    """(out, in) -> (in, out_p / v, v): each column cut into vectors of v rows."""
    rows = padded_rows(weight.shape[0], v)
    padded = torch.cat([weight, weight.new_zeros(rows - weight.shape[0], weight.shape[1])])
    return padded.T.reshape(weight.shape[1], rows // v, v)


def rms_scale(weight: torch.Tensor) -> torch.Tensor:
    """The matrix's RMS (0-d float32), 1 for an all-zero matrix."""
    rms = weight.float().pow(2).mean().sqrt()
    return torch.where(rms > 0, rms, torch.ones(()))


def train_codebooks(layers: list[tuple[torch.Tensor, torch.Tensor]], spec: VptqSpec,
                    seed: int) -> Codebooks:
    """Codebooks of ``layers``: (scaled weight (out, in), Hessian diagonal (in,)) each."""
    vectors, weights = [], []
    for weight, diag in layers:
        cols = column_vectors(weight, spec.vector_len)  # (in, n, v)
        share = diag / diag.mean() if float(diag.mean()) > 0 else torch.ones_like(diag)
        vectors.append(cols.reshape(-1, spec.vector_len))
        weights.append(share.float().unsqueeze(1).expand(-1, cols.shape[1]).reshape(-1))
    data, mass = torch.cat(vectors), torch.cat(weights)  # (N, v), (N,)
    # float16-rounded: the codebooks are stored in float16, and assignment uses what is stored
    main = kmeans(data, mass, spec.codebook, spec.kmeans_iters, seed).half().float()
    if not spec.residual:
        return Codebooks(main, None)
    left = data - main[nearest(data, main)]  # (N, v)
    residual = kmeans(left, mass, spec.residual, spec.kmeans_iters, seed + 1).half().float()
    return Codebooks(main, residual)


def inverse_factor(hessian: torch.Tensor) -> torch.Tensor:
    """Upper Cholesky factor of H⁻¹ (damped; unused columns get H_jj = 1), float32."""
    h = hessian.double().clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0
    h += DAMP * torch.diag(h).mean() * torch.eye(h.shape[0], dtype=h.dtype)
    inverse = torch.cholesky_inverse(torch.linalg.cholesky(h))
    return torch.linalg.cholesky(inverse, upper=True).float()


def _assign(column: torch.Tensor, books: Codebooks, v: int):
    """Indices and quantised values of one column (out_p,)."""
    vec = column.view(-1, v)  # (n, v)
    main = nearest(vec, books.main)  # (n,)
    value = books.main[main]
    res = None
    if books.residual is not None:
        res = nearest(vec - value, books.residual)
        value = value + books.residual[res]
    return main, res, value.flatten()


def quantise(weight: torch.Tensor, factor: torch.Tensor, books: Codebooks,
             v: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """GPTQ-ordered assignment of a scaled matrix (out, in): (indices (in, n), residual or
    None), with each column's error fed forward through ``factor`` (upper chol of H⁻¹)."""
    cols = column_vectors(weight.float(), v)  # (in, n, v)
    work = cols.reshape(cols.shape[0], -1).T.clone()  # (out_p, in), rows in vector order
    n_in = work.shape[1]
    main = torch.zeros(n_in, cols.shape[1], dtype=torch.int64)
    res = torch.zeros_like(main) if books.residual is not None else None
    for i1 in range(0, n_in, BLOCK_COLUMNS):
        i2 = min(i1 + BLOCK_COLUMNS, n_in)
        block, errors, f = work[:, i1:i2].clone(), torch.zeros(work.shape[0], i2 - i1), \
            factor[i1:i2, i1:i2]
        for j in range(i2 - i1):
            a, b, q = _assign(block[:, j], books, v)
            main[i1 + j] = a
            if res is not None:
                res[i1 + j] = b
            err = (block[:, j] - q) / f[j, j]  # (out_p,)
            block[:, j:] -= err.unsqueeze(1) * f[j, j:].unsqueeze(0)
            errors[:, j] = err
        work[:, i2:] -= errors @ factor[i1:i2, i2:]
    return main, res


def encode(weight: torch.Tensor, hessian: torch.Tensor, books: Codebooks, spec: VptqSpec,
           names: tuple[str, str | None]) -> LayerCode:
    """VPTQ code of ``weight`` (out, in) against the shared ``books`` named ``names``."""
    scale = rms_scale(weight)
    main, res = quantise(weight.float() / scale, inverse_factor(hessian), books, spec.vector_len)
    meta = {"vector_len": spec.vector_len, "index_bits": index_bits(books.main.shape[0]),
            "codebook": names[0]}
    tensors = {"scale": scale, "indices": pack_bits(main, meta["index_bits"])}
    if res is not None:
        meta |= {"residual_bits": index_bits(books.residual.shape[0]),
                 "residual_codebook": names[1]}
        tensors["residual_indices"] = pack_bits(res, meta["residual_bits"])
    return LayerCode("vptq", tuple(weight.shape), meta, tensors)


def _lookup(packed: torch.Tensor, count: int, bits: int, book: torch.Tensor) -> torch.Tensor:
    index = unpack_bits(packed, count, bits)
    if count and int(index.max()) >= book.shape[0]:
        raise ValueError(f"vptq: an index points past the codebook's {book.shape[0]} entries")
    return book.float()[index]  # (count, v)


def decode(code: LayerCode, shared: dict[str, torch.Tensor]) -> torch.Tensor:
    """The (out, in) float32 weight of a VPTQ code; ``shared`` holds the codebooks."""
    out, inp = code.shape
    v = meta_int(code.meta, "vector_len", 1, 64)
    count = inp * padded_rows(out, v) // v
    value = _lookup(code.tensors["indices"], count, code.meta["index_bits"],
                    _book(shared, code.meta, "codebook", v))
    if code.meta.get("residual_bits"):
        value = value + _lookup(code.tensors["residual_indices"], count,
                                code.meta["residual_bits"],
                                _book(shared, code.meta, "residual_codebook", v))
    weight = value.view(inp, -1).T[:out]  # (out, in)
    return (weight * code.tensors["scale"].float()).contiguous()


def _book(shared: dict, meta: dict, key: str, v: int) -> torch.Tensor:
    book = shared.get(meta.get(key))
    if book is None or book.dim() != 2 or book.shape[1] != v:
        raise ValueError(f"vptq: codebook {meta.get(key)!r} is missing or not ({'{k}'}, {v})")
    return book
