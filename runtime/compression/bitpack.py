"""Packing unsigned integer codes of any width (1..32 bits) into a byte stream.

Every code stream of the compressed form (SeedLM seeds, coefficients and exponents,
VPTQ indices, hyper-compression indices) is stored at exactly its width, so the bytes on
disk are ceil(n * bits / 8), not a whole byte or word per code.
"""

from __future__ import annotations

import math

import torch


def packed_bytes(count: int, bits: int) -> int:
    """Bytes that ``count`` codes of ``bits`` bits take once packed."""
    return math.ceil(count * bits / 8)


def pack_bits(values: torch.Tensor, bits: int) -> torch.Tensor:
    """Integers in [0, 2^bits) (any shape) -> uint8 stream, little-endian bit order.

    Raises:
        ValueError: a value outside [0, 2^bits) or a width outside 1..32.
    """
    if not 1 <= bits <= 32:
        raise ValueError(f"a code width must be 1..32 bits, not {bits}")
    flat = values.flatten().to(torch.int64)  # (N,)
    if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= 2**bits):
        raise ValueError(f"codes must lie in [0, 2^{bits})")
    shifts = torch.arange(bits, dtype=torch.int64)  # (bits,)
    stream = ((flat.unsqueeze(1) >> shifts) & 1).flatten()  # (N * bits,)
    stream = torch.cat([stream, stream.new_zeros((-stream.numel()) % 8)]).view(-1, 8)  # (B, 8)
    return (stream << torch.arange(8, dtype=torch.int64)).sum(dim=1).to(torch.uint8)  # (B,)


def unpack_bits(packed: torch.Tensor, count: int, bits: int) -> torch.Tensor:
    """The inverse of ``pack_bits``: the first ``count`` codes, int64, flattened.

    Raises:
        ValueError: the stream is too short for ``count`` codes.
    """
    if packed.numel() < packed_bytes(count, bits):
        raise ValueError(f"a packed stream of {packed.numel()} bytes cannot hold {count} "
                         f"codes of {bits} bits")
    stream = (packed.to(torch.int64).unsqueeze(1) >> torch.arange(8)) & 1  # (B, 8)
    stream = stream.flatten()[: count * bits].view(count, bits)  # (N, bits)
    return (stream << torch.arange(bits, dtype=torch.int64)).sum(dim=1)  # (N,)
