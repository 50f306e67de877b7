"""How ``forge_ternary`` lays ternary codes out in bytes: the two packings.

- ``base3``: five codes a byte as base-3 digits (``sum (c_i + 1) 3^i``, i = 0..4), 1.6 bits
  a code (log2 3 = 1.585 is the limit); a valid byte is below 3^5 = 243;
- ``2bit``: four codes a byte, two bits each (``sum (c_i + 1) 4^i``), 2 bits a code; the
  2-bit value 3 never occurs in a valid byte.

Each matrix is packed on its own, flattened row-major. Where its count N is not a multiple
of the codes a byte, ``2bit`` pads the last byte with code 0 (digit 1). ``base3`` does not
pad: with N = 5q + r (0 < r < 5), its last B bytes hold the last 5B + r codes as one
base-3 number (little-endian digits, written as a B-byte little-endian integer), B being
the fewest bytes with 3^(5B + r) <= 256^B (22 for r = 1 up to 85 for r = 4; a byte holds
8 bits but five codes need only 7.92). So a matrix takes floor(N / 5) bytes: at most 1.6
bits a code. A matrix of fewer than 5B codes (under 430 weights) pads its last byte instead.
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


def tail_bytes(numel: int, packing: str) -> int:
    """B: how many last bytes of a ``numel``-code matrix hold its codes as one base-3 number
    (0: none, every byte holds whole groups; see the module docstring)."""
    whole, rest = divmod(numel, CODES_PER_BYTE[packing])
    if packing != "base3" or rest == 0:
        return 0
    size = 1
    while 3 ** (5 * size + rest) > 256**size:
        size += 1
    return size if size <= whole else 0


def packed_size(numel: int, packing: str) -> int:
    """Bytes ``numel`` codes take in ``packing``."""
    if tail_bytes(numel, packing):
        return numel // CODES_PER_BYTE[packing]
    return math.ceil(numel / CODES_PER_BYTE[packing])


def _pack_groups(digits: torch.Tensor, packing: str) -> torch.Tensor:
    """Digits (N,), N a multiple of the codes a byte -> one byte per group."""
    groups = digits.view(-1, CODES_PER_BYTE[packing])
    return (groups * _powers(packing, digits.device)).sum(dim=1).to(torch.uint8)


def _unpack_groups(packed: torch.Tensor, packing: str) -> torch.Tensor:
    """Bytes (M,) -> their digits (M * codes a byte,), int32."""
    values = packed.to(torch.int32).unsqueeze(1)  # (M, 1)
    return ((values // _powers(packing, packed.device)) % _BASE[packing]).flatten()


def pack_codes(codes: torch.Tensor, packing: str = "base3") -> torch.Tensor:
    """Codes in {-1, 0, 1} (any shape) -> uint8 bytes of ``packing``, flattened."""
    per_byte = CODES_PER_BYTE[packing]
    digits = codes.flatten().to(torch.int32) + 1  # (N,) in {0, 1, 2}
    tail = tail_bytes(digits.numel(), packing)
    if tail:
        split = per_byte * (digits.numel() // per_byte - tail)
        number = sum(int(d) * 3**i for i, d in enumerate(digits[split:].tolist()))
        tail_part = torch.tensor(list(number.to_bytes(tail, "little")), dtype=torch.uint8,
                                 device=digits.device)
        return torch.cat([_pack_groups(digits[:split], packing), tail_part])
    pad = (-digits.numel()) % per_byte
    return _pack_groups(torch.cat([digits, digits.new_ones(pad)]), packing)  # pad: code 0


def unpack_codes(packed: torch.Tensor, numel: int, packing: str = "base3") -> torch.Tensor:
    """The inverse of ``pack_codes``: the first ``numel`` codes, int8, flattened."""
    tail = tail_bytes(numel, packing)
    if not tail:
        return (_unpack_groups(packed, packing)[:numel] - 1).to(torch.int8)
    head = _unpack_groups(packed[:-tail], packing)
    number = int.from_bytes(bytes(packed[-tail:].tolist()), "little")
    digits = []
    for _ in range(numel - head.numel()):
        number, digit = divmod(number, 3)
        digits.append(digit)
    rest = torch.tensor(digits, dtype=torch.int32, device=packed.device)
    return (torch.cat([head, rest]) - 1).to(torch.int8)


def invalid_bytes(packed: torch.Tensor, packing: str, numel: int) -> int:
    """How many bytes of a ``numel``-code matrix no codes pack to (base3: a group byte of
    243 or more, or tail bytes whose number reaches 3^(codes they hold); 2bit: a digit 3)."""
    if packing == "2bit":
        return int((_unpack_groups(packed, packing) == 3).view(-1, 4).any(dim=1).sum())
    tail = tail_bytes(numel, packing)
    groups = packed[:-tail] if tail else packed
    bad = int((groups >= 3 ** CODES_PER_BYTE["base3"]).sum())
    if tail:
        number = int.from_bytes(bytes(packed[-tail:].tolist()), "little")
        bad += tail if number >= 3 ** (numel - 5 * groups.numel()) else 0
    return bad
