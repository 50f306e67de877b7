"""What a linear layer's input becomes before its weights see it, and fused reads.

Fused reads (several linears' weights concatenated into one matmul over a shared input)
call no module, so module hooks never see their input. A linear may carry an
``input_quantizer`` (BitNet's per-token activation quantiser, ``runtime.bitnet``); fused
reads apply the first layer's, so every layer of a fused group should carry the same.

Layers stored in another form may fuse themselves: when the first layer of a group has a
``fuse_group(layers)`` method returning a callable ``group(x, rows)`` (the packed ternary
layers of ``runtime.formats.ternary``: one integer matmul over their codes), the fused read
calls it instead of concatenating ``.weight``; ``None`` keeps the concatenation. Plain
``nn.Linear`` layers have no such method, so the float path is the concatenation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

FusedWeight = torch.Tensor | Callable[[torch.Tensor, int | None], torch.Tensor]


def module_input(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``x`` as ``module`` would receive it (its ``input_quantizer`` applied, if any)."""
    quantize = getattr(module, "input_quantizer", None)
    return x if quantize is None else quantize(x)


def fused_weight(linears: Sequence[nn.Module]) -> FusedWeight:
    """What one matmul over the shared input of ``linears`` multiplies by: their weights
    concatenated, (sum of out, in), or the layers' own fused group when the first one
    offers it (``fuse_group``)."""
    fuse = getattr(linears[0], "fuse_group", None)
    group = fuse(linears) if fuse is not None else None
    return torch.cat([m.weight for m in linears]) if group is None else group


def fused_linear(first: nn.Module, x: torch.Tensor, fused: FusedWeight,
                 rows: int | None = None) -> torch.Tensor:
    """``linear(module_input(first, x), fused[:rows])`` without bias: the first ``rows``
    outputs (all when None) of a fused read whose :func:`fused_weight` is ``fused``."""
    if isinstance(fused, torch.Tensor):
        return F.linear(module_input(first, x), fused if rows is None else fused[:rows])
    return fused(x, rows)
