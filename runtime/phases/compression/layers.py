"""The layers phase 8 compresses, and the form each had in the input model.

Targets are the hidden matrices: every linear layer but the output head (embeddings and
norms are not linear layers), the same set BitNet makes ternary. An input layer is
either dense (``nn.Linear``: its weight as stored) or BitNet's packed ternary form
(``TernaryLinear``: codes and a scale, kept as a ``ternary`` code until a stage
re-encodes it). The weights a stage compresses are the dense, dequantised ones
(gamma · codes for a ternary layer).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from runtime.compression.codes import LayerCode
from runtime.formats.ternary import TernaryLinear


def target_modules(model: nn.Module) -> list[str]:
    """Names of the linear (or ternary) layers of ``model`` but the output head, in order."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return [name for name, m in model.named_modules()
            if isinstance(m, (nn.Linear, TernaryLinear)) and m is not head]


def input_form(module: nn.Module) -> LayerCode | None:
    """A ternary layer's stored code; None for a dense layer."""
    if isinstance(module, TernaryLinear):
        return LayerCode("ternary", (module.out_features, module.in_features),
                         {"packing": module.packing},
                         {"codes": module.codes.detach().clone(),
                          "scale": module.scale.detach().clone()})
    return None


def dense_bytes(module: nn.Module) -> int:
    """Bytes of a dense layer's weight as stored."""
    return module.weight.numel() * module.weight.element_size()


def activation_bits(model: nn.Module) -> int | None:
    """The per-token activation bits of a BitNet-trained input (None for other inputs)."""
    cfg = getattr(model.config, "quantization_config", None)
    cfg = cfg.to_dict() if hasattr(cfg, "to_dict") else cfg
    return cfg.get("activation_bits") if isinstance(cfg, dict) else None


@torch.no_grad()
def float_copy(model: nn.Module, targets: list[str]) -> nn.Module:
    """A copy of ``model`` whose target layers are ``nn.Linear`` holding the dense weights,
    with no stored-form settings: the base every stage's directory is written from."""
    base = copy.deepcopy(model)
    for name in targets:
        module = base.get_submodule(name)
        if isinstance(module, nn.Linear):
            continue
        linear = nn.Linear(module.in_features, module.out_features, bias=module.bias is not None)
        linear.weight.copy_(module.weight.float())
        if module.bias is not None:
            linear.bias.copy_(module.bias)
        parent, _, child = name.rpartition(".")
        setattr(base.get_submodule(parent) if parent else base, child, linear)
    if hasattr(base.config, "quantization_config"):
        del base.config.quantization_config
    base.hf_quantizer = None
    for flag in ("is_quantized", "quantization_method"):  # set by a quantized load
        if flag in vars(base):
            delattr(base, flag)
    return base
