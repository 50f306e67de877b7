"""Hyper-compression (Fan et al., arXiv:2409.00592): groups of weights as one index along
an ergodic trajectory.

A matrix is mapped affinely into [0, L]^d (d = ``pair_size``; offset and span stored as
float32), cut into groups of d weights (points), and each point is replaced by the index
n of the nearest of M trajectory points T_n = L · frac(1/2 + n α), n < M. α is the
Kronecker (R_d) direction α_i = φ_d^-i, with φ_d the positive root of x^(d+1) = x + 1:
its coordinates are rationally independent, so the trajectory fills the cube evenly
(ergodic winding), and decoding is evaluating T_n. There are ``points`` trajectory
points per unit cube; L is the largest side with points · L^d ≤ 2^bits, so every index
fits ``bits`` bits (1600 points and 13 bits: L = 2, M = 6400, as the released code's
~1600 points per square at ~13 bits a pair).

A layer whose relative error ||W - Ŵ|| / ||W|| exceeds ``max_error`` is kept in the
form it had (the kernel records which).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from runtime.compression.bitpack import pack_bits, packed_bytes, unpack_bits
from runtime.compression.codes import LayerCode, Layout, meta_int
from runtime.compression.kmeans import nearest


@dataclass(frozen=True)
class HyperSpec:
    """Hyper-compression settings: points per unit cube, index bits, weights per group."""

    points: int = 1600
    bits: int = 13
    pair_size: int = 2
    max_error: float = 0.05

    def side(self) -> int:
        """L: the cube's side, the largest with points · L^d <= 2^bits.

        Raises:
            ValueError: ``points`` alone needs more than ``bits`` bits.
        """
        if self.points > 2**self.bits:
            raise ValueError(f"hyper: {self.points} trajectory points need more than "
                             f"{self.bits} bits per index")
        side = int((2**self.bits / self.points) ** (1 / self.pair_size)) + 1
        while self.points * side**self.pair_size > 2**self.bits:
            side -= 1
        return side

    def meta(self) -> dict:
        return {"points": self.points, "bits": self.bits, "pair_size": self.pair_size,
                "side": self.side()}


def spec_of(meta: dict) -> HyperSpec:
    """The settings of a stored layer (validated: the config is untrusted)."""
    spec = HyperSpec(meta_int(meta, "points", 2, 2**24), meta_int(meta, "bits", 2, 32),
                     meta_int(meta, "pair_size", 1, 8))
    if meta.get("side") != spec.side():
        raise ValueError("hyper: the stored cube side does not fit points and bits")
    return spec


@functools.lru_cache(maxsize=8)
def direction(d: int) -> torch.Tensor:
    """α (d,), float64: φ_d^-(1..d), φ_d the positive root of x^(d+1) = x + 1 (Newton)."""
    phi = 2.0
    for _ in range(64):
        phi -= (phi ** (d + 1) - phi - 1) / ((d + 1) * phi**d - 1)
    return torch.tensor([phi ** -(i + 1) for i in range(d)], dtype=torch.float64)


def trajectory(count: int, d: int, side: int, start: int = 0) -> torch.Tensor:
    """T_n for n in [start, start + count): (count, d) float32 in [0, side)."""
    n = torch.arange(start, start + count, dtype=torch.float64).unsqueeze(1)  # (count, 1)
    return (side * torch.frac(0.5 + n * direction(d))).float()


def layout(meta: dict, shape: tuple[int, int]) -> Layout:
    """Offset, span and the packed indices of a matrix of ``shape``."""
    spec = spec_of(meta)
    groups = math.ceil(shape[0] * shape[1] / spec.pair_size)
    return {"offset": ((), torch.float32), "span": ((), torch.float32),
            "indices": ((packed_bytes(groups, spec.bits),), torch.uint8)}


def encode(weight: torch.Tensor, spec: HyperSpec) -> LayerCode:
    """Hyper-compression code of ``weight`` (out, in)."""
    side, d = spec.side(), spec.pair_size
    flat = weight.detach().float().flatten()
    offset, span = flat.min(), (flat.max() - flat.min()).clamp(min=1e-30)
    unit = (flat - offset) / span * side  # in [0, side]
    points = torch.cat([unit, unit.new_zeros((-unit.numel()) % d)]).view(-1, d)  # (G, d)
    index = nearest(points, trajectory(spec.points * side**d, d, side))  # (G,)
    return LayerCode("hyper", tuple(weight.shape), spec.meta(),
                     {"offset": offset.reshape(()), "span": span.reshape(()),
                      "indices": pack_bits(index, spec.bits)})


def decode(code: LayerCode) -> torch.Tensor:
    """The (out, in) float32 weight of a hyper-compression code."""
    spec, side = spec_of(code.meta), code.meta["side"]
    out, inp = code.shape
    groups = math.ceil(out * inp / spec.pair_size)
    index = unpack_bits(code.tensors["indices"], groups, spec.bits)  # (G,)
    total = spec.points * side**spec.pair_size
    if groups and int(index.max()) >= total:
        raise ValueError(f"hyper: an index points past the trajectory's {total} points")
    unit = trajectory(total, spec.pair_size, side)[index].flatten()[: out * inp]
    weight = unit / side * code.tensors["span"].float() + code.tensors["offset"].float()
    return weight.view(out, inp)


def relative_error(weight: torch.Tensor, rebuilt: torch.Tensor) -> float:
    """||W - Ŵ|| / ||W|| (0 for an all-zero W rebuilt exactly)."""
    norm = float(weight.float().norm())
    diff = float((weight.float() - rebuilt).norm())
    return diff / norm if norm > 0 else (0.0 if diff == 0 else math.inf)
