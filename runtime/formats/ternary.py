"""``forge_ternary``: ternary (1.58-bit) weights packed five trits to a byte.

BitNet b1.58 (REFERENCES.md): per matrix, gamma = mean|W| and codes
W~ = clip(round(W / (gamma + eps)), -1, 1); the layer computes with gamma * W~. Stored
per converted ``nn.Linear``: ``codes`` (uint8, five base-3 digits a byte: 1.6 bits a
weight, where log2(3) = 1.585 is the limit) and ``scale`` (gamma, float32); a bias, if
any, stays full precision. Embeddings, norms and unconverted layers stay as they were,
and count in the bytes on disk. With ``activation_bits`` in the config (a model trained
with BitNet's activation quantiser, ``runtime.bitnet``), each ternary layer quantises its
input per token to that many bits, as in training; without it, inputs stay as they are.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import torch
from torch import nn
from transformers.quantizers import register_quantization_config, register_quantizer
from transformers.quantizers.base import HfQuantizer
from transformers.utils.quantization_config import QuantizationConfigMixin

from runtime.bitnet.quantizers import absmean_codes, quantize_activations

NAME = "forge_ternary"
TRITS_PER_BYTE = 5  # 3**5 = 243 <= 256
_POWERS = torch.tensor([3**i for i in range(TRITS_PER_BYTE)], dtype=torch.int32)  # (5,)


def ternarize(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """BitNet b1.58's absmean quantiser: (codes in {-1, 0, 1} as int8, gamma as a 0-d
    float32 tensor)."""
    codes, gamma = absmean_codes(weight.float())
    return codes.to(torch.int8), gamma


def pack_trits(codes: torch.Tensor) -> torch.Tensor:
    """Codes in {-1, 0, 1} (any shape) -> uint8, five base-3 digits a byte, flattened."""
    digits = codes.flatten().to(torch.int32) + 1  # (N,) in {0, 1, 2}
    pad = (-digits.numel()) % TRITS_PER_BYTE
    digits = torch.cat([digits, digits.new_zeros(pad)]).view(-1, TRITS_PER_BYTE)  # (N/5, 5)
    return (digits * _POWERS.to(digits.device)).sum(dim=1).to(torch.uint8)  # (N/5,)


def unpack_trits(packed: torch.Tensor, numel: int) -> torch.Tensor:
    """The inverse of ``pack_trits``: the first ``numel`` codes, int8, flattened."""
    values = packed.to(torch.int32).unsqueeze(1)  # (M, 1)
    digits = (values // _POWERS.to(packed.device)) % 3  # (M, 5)
    return (digits.flatten()[:numel] - 1).to(torch.int8)


class TernaryLinear(nn.Module):
    """A linear layer stored as packed ternary codes and one scale.

    ``weight`` is the dequantised (out, in) matrix gamma * W~, built on first use, so code
    that reads ``.weight`` (fused projections) works unchanged.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool):
        # the dense weight is cached in float32 after first use: 4 bytes a weight in memory
        # (the packed form is what is stored); a fused kernel would avoid it
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        nbytes = math.ceil(in_features * out_features / TRITS_PER_BYTE)
        self.register_buffer("codes", torch.zeros(nbytes, dtype=torch.uint8))
        self.register_buffer("scale", torch.ones((), dtype=torch.float32))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.input_quantizer = None  # per-token activation quantiser (set by ``convert``)
        self._dense: tuple[tuple, torch.Tensor] | None = None

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> TernaryLinear:
        """The ternary form of ``linear``'s weights (its bias kept as is)."""
        out = cls(linear.in_features, linear.out_features, linear.bias is not None)
        codes, gamma = ternarize(linear.weight)
        out.codes.copy_(pack_trits(codes))
        out.scale.copy_(gamma)
        if linear.bias is not None:
            out.bias.data.copy_(linear.bias.detach())
        return out.to(linear.weight.device)

    @property
    def weight(self) -> torch.Tensor:
        """gamma * W~, (out, in), in the scale's dtype; rebuilt when the codes change."""
        version = (self.codes._version, self.scale._version,  # in-place edits and
                   self.codes.data_ptr(), self.scale.data_ptr())  # replaced buffers
        if self._dense is None or self._dense[0] != version or self._dense[1].device != self.codes.device:
            codes = unpack_trits(self.codes, self.in_features * self.out_features)
            dense = codes.view(self.out_features, self.in_features).float() * self.scale
            self._dense = (version, dense)
        return self._dense[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_quantizer is not None:
            x = self.input_quantizer(x)
        return nn.functional.linear(x, self.weight.to(x.dtype), self.bias)  # (..., out)


@register_quantization_config(NAME)
class ForgeTernaryConfig(QuantizationConfigMixin):
    """``quantization_config`` of a ``forge_ternary`` model: which linears are ternary."""

    def __init__(self, modules: list[str] | None = None, activation_bits: int | None = None,
                 **kwargs):
        modules = [] if modules is None else modules
        if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
            raise ValueError(f"{NAME}: quantization_config.modules must be a list of module "
                             f"names, not {type(modules).__name__}")
        if activation_bits is not None and (not isinstance(activation_bits, int)
                                            or isinstance(activation_bits, bool)
                                            or not 2 <= activation_bits <= 16):
            raise ValueError(f"{NAME}: quantization_config.activation_bits must be an integer "
                             f"in 2..16 or absent, not {activation_bits!r}")
        self.quant_method = NAME
        self.modules = list(modules)
        self.activation_bits = activation_bits


@register_quantizer(NAME)
class ForgeTernaryQuantizer(HfQuantizer):
    """Loads ``forge_ternary`` directories: the listed linears become ``TernaryLinear``."""

    requires_calibration = True  # only loads what ``save_ternary`` wrote

    def validate_environment(self, *args, **kwargs) -> None:
        return None

    def _process_model_before_weight_loading(self, model, checkpoint_files=None,
                                             **kwargs) -> None:
        check_stored(self.quantization_config.modules, checkpoint_files or [])
        convert(model, self.quantization_config.modules, from_weights=False,
                activation_bits=self.quantization_config.activation_bits)

    def is_serializable(self, *args, **kwargs) -> bool:
        return True

    @property
    def is_trainable(self) -> bool:
        return False


def check_stored(modules: list[str], checkpoint_files) -> None:
    """The config's ternary modules are exactly those whose codes the weights hold.

    A mismatch would load silently wrong (uninitialised codes, or dense layers left at
    random), so it is refused, from the safetensors headers alone.

    Raises:
        ValueError: a listed module without codes, or stored codes of an unlisted one.
    """
    from safetensors import safe_open

    stored = set()
    for path in checkpoint_files:
        with safe_open(str(path), framework="pt") as f:
            stored |= {k[: -len(".codes")] for k in f.keys() if k.endswith(".codes")}
    listed = set(modules)
    if stored != listed:
        odd = sorted(listed ^ stored)
        raise ValueError(f"{NAME}: quantization_config.modules and the stored codes differ "
                         f"at {odd[:3]} ({len(odd)} modules); the directory is damaged")


def convert(model: nn.Module, modules: list[str], from_weights: bool = True,
            activation_bits: int | None = None) -> None:
    """Swap each named ``nn.Linear`` of ``model`` for a ``TernaryLinear`` (in place), each
    quantising its input to ``activation_bits`` per token when given.

    Raises:
        ValueError: a name that is not an ``nn.Linear`` of the model.
    """
    for name in modules:
        parent_name, _, child = name.rpartition(".")
        try:
            parent = model.get_submodule(parent_name) if parent_name else model
        except AttributeError:
            raise ValueError(f"{name} is not a module of this model") from None
        linear = getattr(parent, child, None)
        if not isinstance(linear, nn.Linear):
            raise ValueError(f"{name} is not a linear layer of this model")
        new = (TernaryLinear.from_linear(linear) if from_weights else
               TernaryLinear(linear.in_features, linear.out_features, linear.bias is not None))
        if activation_bits is not None:
            new.input_quantizer = partial(quantize_activations, bits=activation_bits)
        setattr(parent, child, new)


def default_modules(model: nn.Module) -> list[str]:
    """The linears BitNet makes ternary: every ``nn.Linear`` but the output head."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return [name for name, m in model.named_modules()
            if isinstance(m, nn.Linear) and m is not head]


def save_ternary(model, tokenizer, out_dir: Path, modules: list[str] | None = None,
                 activation_bits: int | None = None) -> Path:
    """Write ``model`` with ``modules`` (default: ``default_modules``) ternary, in place.

    The directory loads with ``AutoModelForCausalLM.from_pretrained`` after
    ``import runtime.formats``; ``model`` itself is converted in place. With
    ``activation_bits`` the layers quantise their inputs per token, stored and loaded.
    """
    names = default_modules(model) if modules is None else list(modules)
    convert(model, names, activation_bits=activation_bits)
    model.config.quantization_config = ForgeTernaryConfig(
        modules=names, activation_bits=activation_bits).to_dict()
    model.save_pretrained(out_dir)
    if tokenizer is not None:
        tokenizer.save_pretrained(out_dir)
    return Path(out_dir)
