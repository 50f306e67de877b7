"""A compressed layer: its method, its JSON settings and its stored tensors.

Every stage encodes a weight matrix (out, in) into a ``LayerCode``; the stored form
(``runtime.compression.stored``) writes ``tensors`` as safetensors buffers of the layer
and ``meta`` into ``config.json``. ``layout`` gives the tensors' shapes and dtypes from
``meta`` and the matrix shape alone, so a loader allocates them before reading, and the
kernel knows a stage's bytes on disk before it encodes anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

Layout = dict[str, tuple[tuple[int, ...], torch.dtype]]
DTYPES = {"float16": torch.float16, "float32": torch.float32, "uint8": torch.uint8}


@dataclass
class LayerCode:
    """One matrix in a stored form.

    Attributes:
        method: ``seedlm``, ``vptq``, ``hyper`` or ``ternary`` (an input kept as it was).
        shape: (out_features, in_features).
        meta: JSON settings of the method (widths, exponents, which shared codebook).
        tensors: the stored tensors, named as ``layout(method, meta, shape)`` says.
    """

    method: str
    shape: tuple[int, int]
    meta: dict
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)

    def nbytes(self) -> int:
        """Bytes of the stored tensors (shared codebooks not included)."""
        return sum(t.numel() * t.element_size() for t in self.tensors.values())


def layout_bytes(layout: Layout) -> int:
    """Bytes the tensors of ``layout`` take."""
    return sum(math.prod(shape) * torch.empty((), dtype=dtype).element_size()
               for shape, dtype in layout.values())


def meta_int(meta: dict, key: str, low: int, high: int) -> int:
    """``meta[key]`` as an integer in [low, high].

    Raises:
        ValueError: missing, not an integer, or out of range (a damaged config).
    """
    value = meta.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"compressed layer setting {key!r} must be an integer in "
                         f"[{low}, {high}], not {value!r}")
    return value
