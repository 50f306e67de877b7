"""SeedLM (Shafipour et al., arXiv:2410.10714): a block of C weights as an LFSR seed.

Per block w (C,), every K-bit seed s gives a basis U_s (C, P) (``runtime.compression.lfsr``);
t = U_s⁺ w is the least-squares fit, quantised to ``coef_bits``-bit integers q with one
shared exponent e per block (t ≈ q · 2^e). The stored seed is the one whose quantised
fit has the least error ||w - U_s q 2^e||², searched over all 2^K - 1 seeds at once
(vectorised over seeds and blocks, in chunks that bound memory). Ties go to the seed
earliest in the orbit. Stored per block: K + E + P · coef_bits bits, packed.

The exponent range: e ∈ [top - (2^E - 1), top], where top is the smallest exponent that
fits the largest coefficient any seed can give (||U_s⁺||₂ · max_b ||w_b||); ``base``
(= top - 2^E + 1) is kept in the layer's settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from runtime.compression import lfsr
from runtime.compression.bitpack import pack_bits, packed_bytes, unpack_bits
from runtime.compression.codes import LayerCode, Layout, meta_int

CHUNK_ELEMENTS = 1 << 22  # seeds x blocks x C floats per search step (~16 MB a tensor)
SEED_CHUNK = 4096  # seeds whose bases and pseudo-inverses are built at once


@dataclass(frozen=True)
class SeedLMSpec:
    """SeedLM settings: C, P, K, coefficient and exponent bits."""

    block: int = 8
    latent: int = 3
    seed_bits: int = 16
    coef_bits: int = 4
    exponent_bits: int = 4

    @property
    def qmax(self) -> int:
        return 2 ** (self.coef_bits - 1) - 1

    def meta(self) -> dict:
        return {"block": self.block, "latent": self.latent, "seed_bits": self.seed_bits,
                "coef_bits": self.coef_bits, "exponent_bits": self.exponent_bits}


def spec_of(meta: dict) -> SeedLMSpec:
    """The settings stored in a layer's ``meta`` (validated: the config is untrusted)."""
    spec = SeedLMSpec(meta_int(meta, "block", 2, 256), meta_int(meta, "latent", 1, 64),
                      meta_int(meta, "seed_bits", 4, 24), meta_int(meta, "coef_bits", 2, 16),
                      meta_int(meta, "exponent_bits", 0, 8))
    if spec.latent >= spec.block:
        raise ValueError("seedlm: latent must be smaller than block")
    return spec


def layout(meta: dict, shape: tuple[int, int]) -> Layout:
    """Packed seeds, coefficients and (when E > 0) exponents of ``shape``'s blocks."""
    spec = spec_of(meta)
    blocks = math.ceil(shape[0] * shape[1] / spec.block)
    out = {"seeds": ((packed_bytes(blocks, spec.seed_bits),), torch.uint8),
           "coefs": ((packed_bytes(blocks * spec.latent, spec.coef_bits),), torch.uint8)}
    if spec.exponent_bits:
        out["exponents"] = ((packed_bytes(blocks, spec.exponent_bits),), torch.uint8)
    return out


def _blocks(weight: torch.Tensor, block: int) -> torch.Tensor:
    """(out, in) -> (NB, C), zero-padded at the end."""
    flat = weight.detach().float().flatten()
    return torch.cat([flat, flat.new_zeros((-flat.numel()) % block)]).view(-1, block)


def _top_exponent(blocks: torch.Tensor, spec: SeedLMSpec) -> int:
    """Smallest e with every seed's coefficients of every block within qmax · 2^e."""
    largest = 0.0
    for start in range(0, (1 << spec.seed_bits) - 1, SEED_CHUNK):
        _, bases = lfsr.bases_at(start, start + SEED_CHUNK, spec.seed_bits, spec.block,
                                 spec.latent)
        largest = max(largest, float(torch.linalg.matrix_norm(torch.linalg.pinv(bases),
                                                              ord=2).max()))
    bound = largest * float(blocks.norm(dim=1).max())
    return math.ceil(math.log2(max(bound, 1e-30) / spec.qmax))


def quantise(fit: torch.Tensor, base: int, spec: SeedLMSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """Coefficients (..., P) -> (integers q (..., P), exponents e (...)), t ≈ q · 2^e."""
    amax = fit.abs().amax(dim=-1).clamp(min=1e-30)  # (...)
    top = base + (1 << spec.exponent_bits) - 1
    e = torch.ceil(torch.log2(amax / spec.qmax)).clamp(base, top)  # (...)
    q = torch.round(fit / torch.exp2(e).unsqueeze(-1)).clamp(-spec.qmax - 1, spec.qmax)
    return q, e


def search(blocks: torch.Tensor, spec: SeedLMSpec, base: int) -> dict[str, torch.Tensor]:
    """The best seed of every block (NB, C): ``seed`` (NB,), ``q`` (NB, P), ``e`` (NB,),
    ``error`` (NB,) = ||w - U q 2^e||² of the chosen seed."""
    nb = blocks.shape[0]
    best = {"error": torch.full((nb,), math.inf), "seed": torch.zeros(nb, dtype=torch.int64),
            "q": torch.zeros(nb, spec.latent), "e": torch.zeros(nb)}
    norms = blocks.pow(2).sum(dim=1)  # (NB,)
    for start in range(0, (1 << spec.seed_bits) - 1, SEED_CHUNK):
        seeds, bases = lfsr.bases_at(start, start + SEED_CHUNK, spec.seed_bits, spec.block,
                                     spec.latent)  # (S,), (S, C, P)
        gram = bases.transpose(1, 2) @ bases  # (S, P, P)
        chunk = Chunk(seeds, bases, gram, torch.linalg.pinv(bases))
        step = max(1, CHUNK_ELEMENTS // (seeds.numel() * spec.block))
        for b0 in range(0, nb, step):
            rows = slice(b0, b0 + step)
            _improve(best, rows, blocks[rows], norms[rows], chunk, spec, base)
    return best


@dataclass(frozen=True)
class Chunk:
    """Seeds (S,), their bases U (S, C, P), Gram matrices UᵀU (S, P, P) and U⁺ (S, P, C)."""

    seeds: torch.Tensor
    bases: torch.Tensor
    gram: torch.Tensor
    pinv: torch.Tensor


def _improve(best: dict, rows: slice, w: torch.Tensor, norms: torch.Tensor, chunk: Chunk,
             spec: SeedLMSpec, base: int) -> None:
    """Fit, quantise and score blocks ``w`` (B, C) under every seed of a chunk; keep better.

    ||w - U c||² = ||w||² - 2 c·Uᵀw + cᵀ(UᵀU)c, so nothing of size (S, C, B) is built;
    tensors are (S, P, B), B last, so each product is one batched matmul over blocks."""
    cols = w.T  # (C, B)
    proj = chunk.bases.transpose(1, 2) @ cols  # (S, P, B): Uᵀw
    fit = chunk.pinv @ cols  # (S, P, B): U⁺w
    q, e = quantise(fit.transpose(1, 2), base, spec)  # (S, B, P), (S, B)
    coef = (q * torch.exp2(e).unsqueeze(-1)).transpose(1, 2)  # (S, P, B)
    error = norms - ((2 * proj - chunk.gram @ coef) * coef).sum(dim=1)  # (S, B)
    winner = error.argmin(dim=0)  # (B,): the first seed of the chunk on ties
    index = torch.arange(w.shape[0])
    score = error[winner, index]
    better = score < best["error"][rows]  # strict: an earlier chunk wins ties
    for key, value in (("error", score), ("seed", chunk.seeds[winner]), ("q", q[winner, index]),
                       ("e", e[winner, index])):
        best[key][rows] = torch.where(better.view(-1, *[1] * (value.dim() - 1)), value,
                                      best[key][rows])


def encode(weight: torch.Tensor, spec: SeedLMSpec) -> LayerCode:
    """SeedLM code of ``weight`` (out, in)."""
    blocks = _blocks(weight, spec.block)  # (NB, C)
    base = _top_exponent(blocks, spec) - (1 << spec.exponent_bits) + 1
    best = search(blocks, spec, base)
    tensors = {"seeds": pack_bits(best["seed"], spec.seed_bits),
               "coefs": pack_bits(best["q"].long() + spec.qmax + 1, spec.coef_bits)}
    if spec.exponent_bits:
        tensors["exponents"] = pack_bits(best["e"].long() - base, spec.exponent_bits)
    return LayerCode("seedlm", tuple(weight.shape), {**spec.meta(), "base": base}, tensors)


def decode(code: LayerCode) -> torch.Tensor:
    """The (out, in) float32 weight a SeedLM code stands for."""
    spec = spec_of(code.meta)
    base = code.meta.get("base")
    if not isinstance(base, int) or isinstance(base, bool) or abs(base) > 1024:
        raise ValueError(f"seedlm: base exponent must be an integer, not {base!r}")
    out, inp = code.shape
    nb = math.ceil(out * inp / spec.block)
    seeds = unpack_bits(code.tensors["seeds"], nb, spec.seed_bits)  # (NB,)
    q = unpack_bits(code.tensors["coefs"], nb * spec.latent, spec.coef_bits).view(nb, -1)
    e = (unpack_bits(code.tensors["exponents"], nb, spec.exponent_bits) if spec.exponent_bits
         else torch.zeros(nb, dtype=torch.int64)) + base  # (NB,)
    coef = (q - spec.qmax - 1).float() * torch.exp2(e.float()).unsqueeze(-1)  # (NB, P)
    bases = lfsr.basis(seeds, spec.seed_bits, spec.block, spec.latent)  # (NB, C, P)
    blocks = torch.einsum("bcp,bp->bc", bases, coef)  # (NB, C)
    return blocks.flatten()[: out * inp].view(out, inp)
