"""How ``forge_ternary`` lays ternary codes out in bytes: the two packings.

- ``base3``: five codes a byte as base-3 digits (``sum (c_i + 1) 3^i``, i = 0..4), 1.6 bits
  a code (log2 3 = 1.585 is the limit); a valid byte is below 3^5 = 243;
- ``2bit``: four codes a byte, two bits each (``sum (c_i + 1) 4^i``), 2 bits a code; the
  2-bit value 3 never occurs in a valid byte.

Each matrix is packed on its own, flattened row-major; its last byte is padded with code 0
(digit 1) where the count is not a multiple of the codes a byte.
"""

from __future__ import annotations

import math

import torch

CODES_PER_BYTE = {"base3": 5, "2bit": 4}
PACKINGS = tuple(CODES_PER_BYTE)
_BASE = {"base3": 3, "2bit": 4}


def _powers(packing: str, device) -> torch.Tensor:
    base = _BASE[packing]
    return torch.tensor([base**i for i in range(CODES_PER_BYTE[packing])], dtype=torch.int32,
                        device=device)


def packed_size(numel: int, packing: str) -> int:
    """Bytes ``numel`` codes take in ``packing``."""
    return math.ceil(numel / CODES_PER_BYTE[packing])


def pack_codes(codes: torch.Tensor, packing: str = "base3") -> torch.Tensor:
    """Codes in {-1, 0, 1} (any shape) -> uint8 bytes of ``packing``, flattened."""
    per_byte = CODES_PER_BYTE[packing]
    digits = codes.flatten().to(torch.int32) + 1  # (N,) in {0, 1, 2}
    pad = (-digits.numel()) % per_byte
    digits = torch.cat([digits, digits.new_ones(pad)]).view(-1, per_byte)  # pad: code 0
    return (digits * _powers(packing, digits.device)).sum(dim=1).to(torch.uint8)  # (N/k,)


def unpack_codes(packed: torch.Tensor, numel: int, packing: str = "base3") -> torch.Tensor:
    """The inverse of ``pack_codes``: the first ``numel`` codes, int8, flattened."""
    values = packed.to(torch.int32).unsqueeze(1)  # (M, 1)
    digits = (values // _powers(packing, packed.device)) % _BASE[packing]  # (M, k)
    return (digits.flatten()[:numel] - 1).to(torch.int8)


def invalid_bytes(packed: torch.Tensor, packing: str) -> int:
    """How many bytes of ``packed`` no codes pack to (base3: >= 243; 2bit: a digit 3)."""
    if packing == "base3":
        return int((packed >= 3 ** CODES_PER_BYTE["base3"]).sum())
    values = packed.to(torch.int32).unsqueeze(1)
    digits = (values // _powers(packing, packed.device)) % 4
    return int((digits == 3).any(dim=1).sum())
