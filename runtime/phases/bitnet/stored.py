"""What the bitnet phase wrote, measured on the stored tensors and the files."""

from __future__ import annotations

from pathlib import Path

import torch

from runtime.artifacts import directory_bytes
from runtime.formats.ternary import TernaryLinear


def packed_metrics(model, source: Path, out: Path) -> dict[str, float]:
    """``bits_per_param`` of the ternary layers (every byte of their packed codes x 8 /
    their weights), ``scale_bits_per_param`` (their float32 scales' bits / their weights,
    reported apart, not hidden: both are in the bytes on disk), ``sparsity`` (share of zero
    codes), and the directory's bytes against the input's: ``compression_ratio`` = input
    bytes / output bytes (embeddings, head, norms, scales, tokenizer and config included on
    both sides)."""
    layers = [m for m in model.modules() if isinstance(m, TernaryLinear)]
    if not layers:
        raise ValueError("the bitnet output has no ternary layer")
    weights = sum(m.in_features * m.out_features for m in layers)
    packed = sum(m.codes.numel() for m in layers)
    zeros = sum(int((m.unpacked_codes() == 0).sum()) for m in layers)
    before, after = directory_bytes(source), directory_bytes(out)
    scale_bits = sum(8 * m.scale.numel() * m.scale.element_size() for m in layers)
    return {"bits_per_param": 8 * packed / weights, "scale_bits_per_param": scale_bits / weights,
            "sparsity": zeros / weights,
            "input_disk_bytes": float(before), "compression_ratio": before / after}


@torch.no_grad()
def quantization_error(model, modules: list[str]) -> float:
    """Mean over ``modules`` of ||W - gamma W~|| / ||W|| (their current, dense weights)."""
    from runtime.bitnet.quantizers import ternary_weight

    errors = []
    for name in modules:
        weight = model.get_submodule(name).weight
        errors.append(float((weight - ternary_weight(weight)).norm() / weight.norm().clamp(min=1e-12)))
    return sum(errors) / len(errors)
