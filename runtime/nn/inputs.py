"""What a linear layer's input becomes before its weights see it.

Fused reads (several linears' weights concatenated into one matmul over a shared input)
call no module, so module hooks never see their input. A linear may carry an
``input_quantizer`` (BitNet's per-token activation quantiser, ``runtime.bitnet``); fused
reads apply the first layer's, so every layer of a fused group should carry the same.
"""

from __future__ import annotations

import torch
from torch import nn


def module_input(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``x`` as ``module`` would receive it (its ``input_quantizer`` applied, if any)."""
    quantize = getattr(module, "input_quantizer", None)
    return x if quantize is None else quantize(x)
