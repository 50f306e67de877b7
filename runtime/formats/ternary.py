"""``forge_ternary``: ternary (1.58-bit) weights packed into bytes.

BitNet b1.58 (REFERENCES.md): per matrix, gamma = mean|W| and codes
W~ = clip(round(W / (gamma + eps)), -1, 1); the layer computes with gamma * W~. Stored
per converted ``nn.Linear``: ``codes`` (uint8, packed as ``runtime.formats.ternary_packing``
says: ``base3``, five codes a byte, 1.6 bits a weight, where log2(3) = 1.585 is the limit;
or ``2bit``, four a byte) and ``scale`` (gamma, float32); a bias, if any, stays full
precision. Embeddings, norms and unconverted layers stay as they were, and count in the
bytes on disk. With ``activation_bits`` in the config (a model trained with BitNet's
activation quantiser, ``runtime.bitnet``), each ternary layer quantises its input per token
to that many bits, as in training; without it, inputs stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn
from transformers.quantizers import register_quantization_config, register_quantizer
from transformers.quantizers.base import HfQuantizer
from transformers.utils.quantization_config import QuantizationConfigMixin

from runtime.bitnet.quantizers import absmean_codes, quantize_activations, ternary_valued
from runtime.formats import ternary_int8
from runtime.formats.ternary_checks import check_headers, check_loaded, layer_digest
from runtime.formats.ternary_fused import FusedTernary
from runtime.formats.ternary_packing import PACKINGS, pack_codes, packed_size, unpack_codes

NAME = "forge_ternary"
TRITS_PER_BYTE = 5  # base3: 3**5 = 243 <= 256


@dataclass(frozen=True)
class TernarySource:
    """The stored codes (int8, (out, in)) and scale a float layer was made from
    (``runtime.bitnet.trainable.to_float``): while its weight is still ``scale * codes``,
    it is stored as exactly these."""

    codes: torch.Tensor
    scale: torch.Tensor


def ternarize(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """BitNet b1.58's absmean quantiser: (codes in {-1, 0, 1} as int8, gamma as a 0-d
    float32 tensor)."""
    codes, gamma = absmean_codes(weight.float())
    return codes.to(torch.int8), gamma


def pack_trits(codes: torch.Tensor) -> torch.Tensor:
    """Codes in {-1, 0, 1} (any shape) -> uint8, five base-3 digits a byte, flattened."""
    return pack_codes(codes, "base3")


def unpack_trits(packed: torch.Tensor, numel: int) -> torch.Tensor:
    """The inverse of ``pack_trits``: the first ``numel`` codes, int8, flattened."""
    return unpack_codes(packed, numel, "base3")


def stored_codes(linear: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """The codes (int8, weight's shape) and scale to store ``linear`` as: its
    ``ternary_source`` while the weight still equals it; a ternary-valued weight as it is,
    losslessly (``runtime.bitnet.quantizers.ternary_valued``); else ``ternarize`` of it."""
    source = getattr(linear, "ternary_source", None)
    weight = linear.weight.detach().float()
    if source is not None and source.codes.shape == weight.shape:
        codes, scale = source.codes.to(weight.device), source.scale.to(weight.device)
        if torch.equal(weight, codes.float() * scale):
            return codes, scale
    exact = ternary_valued(weight)
    return exact if exact is not None else ternarize(weight)


# how a TernaryLinear computes (``TernaryLinear.forward``; runtime.formats.ternary_int8)
KERNELS = ("auto", "int8", "float_codes", "dense")
# ``auto`` picks ``int8`` for a matmul of at least this many weights (a layer's, or a fused
# group's together) and ``float_codes`` below: measured with
# benchmarks/ternary_kernel_sizes.py, where int8's fixed cost a call stops costing more
# than its 1-byte weights save (docs/bitnet.md, "How a ternary layer computes")
INT8_MIN_WEIGHTS = 2**17


class TernaryLinear(nn.Module):
    """A linear layer stored as packed ternary codes and one scale.

    ``weight`` is the dequantised (out, in) matrix gamma * W~, built on first use, so code
    that reads ``.weight`` works unchanged. ``kernel`` says how ``forward`` computes:
    ``"int8"`` or ``"float_codes"`` multiply the integer activations by the codes (an int8
    matmul, or a float32 one of exact integer sums; ``runtime.formats.ternary_int8``; the
    two agree to the bit) where that is exact (CPU, quantised inputs, no gradient being
    recorded; int8 also needs <= 8 bits and falls back to float_codes without them), else
    ``"dense"``: ``linear(quantised input, weight)``, the reference; ``"auto"`` (default)
    is int8 from ``INT8_MIN_WEIGHTS`` weights and float_codes below. Fused reads of several
    ternary layers (``runtime.nn.inputs``) get one ``FusedTernary`` (``fuse_group``).
    """

    kernel = "auto"

    def __init__(self, in_features: int, out_features: int, bias: bool, packing: str = "base3"):
        # memory: the int8 kernel keeps 1 byte a weight (fbgemm's packed codes); float_codes
        # and ``weight`` (the dense kernel) cache a float32 matrix, 4 bytes a weight
        super().__init__()
        if packing not in PACKINGS:
            raise ValueError(f"{NAME}: unknown packing {packing!r} (one of {PACKINGS})")
        self.in_features, self.out_features, self.packing = in_features, out_features, packing
        nbytes = packed_size(in_features * out_features, packing)
        self.register_buffer("codes", torch.zeros(nbytes, dtype=torch.uint8))
        self.register_buffer("scale", torch.ones((), dtype=torch.float32))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.input_quantizer = None  # per-token activation quantiser (set by ``convert``)
        self.activation_bits: int | None = None  # its bits
        self._dense: tuple[tuple, torch.Tensor] | None = None
        self._integer: tuple[tuple, ternary_int8.Int8Weights | ternary_int8.FloatCodes] | None = None
        self._groups: dict[tuple[int, ...], FusedTernary] = {}  # fused reads led by this layer

    @classmethod
    def from_linear(cls, linear: nn.Linear, packing: str = "base3") -> TernaryLinear:
        """The ternary form of ``linear``'s weights (its bias kept as is)."""
        out = cls(linear.in_features, linear.out_features, linear.bias is not None, packing)
        codes, gamma = stored_codes(linear)
        out.codes.copy_(pack_codes(codes, packing))
        out.scale.copy_(gamma)
        if linear.bias is not None:
            out.bias.data.copy_(linear.bias.detach())
        return out.to(linear.weight.device)

    def unpacked_codes(self) -> torch.Tensor:
        """The codes, int8, (out, in)."""
        numel = self.in_features * self.out_features
        return unpack_codes(self.codes, numel, self.packing).view(self.out_features,
                                                                  self.in_features)

    def _version(self) -> tuple:
        """Changes when the codes or scale do (in-place edits, replaced buffers, devices);
        buffers made in inference mode have no version counter: then replaced buffers and
        devices only."""
        codes, scale = self._buffers["codes"], self._buffers["scale"]  # no __getattr__
        return (None if codes.is_inference() else codes._version,
                None if scale.is_inference() else scale._version,
                codes.data_ptr(), scale.data_ptr(), codes.device)

    @property
    def weight(self) -> torch.Tensor:
        """gamma * W~, (out, in), in the scale's dtype; rebuilt when the codes change."""
        if self._dense is None or self._dense[0] != self._version():
            self._dense = (self._version(), self.unpacked_codes().float() * self.scale)
        return self._dense[1]

    def integer_kernel(self, x: torch.Tensor, weights: int | None = None) -> str | None:
        """``"int8"`` or ``"float_codes"``: the integer kernel that computes ``x`` through
        this layer (or through a fused group of ``weights`` weights led by it), or None for
        the dense reference (see the class)."""
        if (self.kernel == "dense" or self.input_quantizer is None or torch.is_grad_enabled()
                or not ternary_int8.exact(self.in_features, self.activation_bits, x.device)):
            return None
        weights = self.in_features * self.out_features if weights is None else weights
        kernel = self.kernel
        if kernel == "auto":
            kernel = "int8" if weights >= INT8_MIN_WEIGHTS else "float_codes"
        if kernel == "int8" and not (self.activation_bits <= 8 and ternary_int8.available()):
            return "float_codes"  # exact (checked above), but not in uint8 or not available
        return kernel

    def integer_weights(self, kernel: str) -> ternary_int8.Int8Weights | ternary_int8.FloatCodes:
        """The codes laid out for ``kernel``; rebuilt when the codes or scale change."""
        version = (*self._version(), self.activation_bits, kernel)
        if self._integer is None or self._integer[0] != version:
            weights = ternary_int8.make_weights(kernel, self.unpacked_codes(), self.scale,
                                                self.activation_bits)
            self._integer = (version, weights)
        return self._integer[1]

    def fuse_group(self, layers) -> FusedTernary | None:
        """The fused read of ``layers`` (this layer first; ``runtime.nn.inputs``) as one
        integer matmul over their stacked codes, or None to concatenate their dequantised
        ``weight`` instead: while gradients are recorded, with the dense kernel, or when
        the layers are not all ternary with this layer's input width, activation bits and
        kernel."""
        layers = tuple(layers)
        if (torch.is_grad_enabled() or self.input_quantizer is None or self.kernel == "dense"
                or not all(isinstance(m, TernaryLinear) and m.in_features == self.in_features
                           and m.activation_bits == self.activation_bits
                           and m.kernel == self.kernel for m in layers)):
            return None
        key = tuple(id(m) for m in layers)
        group = self._groups.get(key)
        if group is None or any(a is not b for a, b in zip(group.layers, layers, strict=True)):
            group = self._groups[key] = FusedTernary(layers)
        group.refresh()
        return group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = self.integer_kernel(x)
        if kernel is not None:
            return ternary_int8.integer_linear(kernel, x, self.integer_weights(kernel),
                                               self.bias)
        if self.input_quantizer is not None:
            x = self.input_quantizer(x)
        return nn.functional.linear(x, self.weight.to(x.dtype), self.bias)  # (..., out)


@register_quantization_config(NAME)
class ForgeTernaryConfig(QuantizationConfigMixin):
    """``quantization_config`` of a ``forge_ternary`` model: which linears are ternary."""

    def __init__(self, modules: list[str] | None = None, activation_bits: int | None = None,
                 packing: str = "base3", digests: dict[str, str] | None = None, **kwargs):
        modules = [] if modules is None else modules
        if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
            raise ValueError(f"{NAME}: quantization_config.modules must be a list of module "
                             f"names, not {type(modules).__name__}")
        if activation_bits is not None and (not isinstance(activation_bits, int)
                                            or isinstance(activation_bits, bool)
                                            or not 2 <= activation_bits <= 16):
            raise ValueError(f"{NAME}: quantization_config.activation_bits must be an integer "
                             f"in 2..16 or absent, not {activation_bits!r}")
        if packing not in PACKINGS:
            raise ValueError(f"{NAME}: quantization_config.packing must be one of {PACKINGS}, "
                             f"not {packing!r}")
        if digests is not None and (not isinstance(digests, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in digests.items())):
            raise ValueError(f"{NAME}: quantization_config.digests must map module names to "
                             "sha256 strings")
        self.quant_method = NAME
        self.modules = list(modules)
        self.digests = digests
        self.activation_bits = activation_bits
        self.packing = packing


@register_quantizer(NAME)
class ForgeTernaryQuantizer(HfQuantizer):
    """Loads ``forge_ternary`` directories: the listed linears become ``TernaryLinear``."""

    requires_calibration = True  # only loads what ``save_ternary`` wrote

    def validate_environment(self, *args, **kwargs) -> None:
        return None

    def _process_model_before_weight_loading(self, model, checkpoint_files=None,
                                             **kwargs) -> None:
        config = self.quantization_config
        convert(model, config.modules, from_weights=False,
                activation_bits=config.activation_bits, packing=config.packing)
        layers = {name: model.get_submodule(name) for name in config.modules}
        self._where = check_headers(layers, checkpoint_files or [])

    def _process_model_after_weight_loading(self, model, **kwargs):
        config = self.quantization_config
        layers = {name: model.get_submodule(name) for name in config.modules}
        check_loaded(layers, getattr(self, "_where", {}), config.digests)
        return model

    def is_serializable(self, *args, **kwargs) -> bool:
        return True

    @property
    def is_trainable(self) -> bool:
        return False


def convert(model: nn.Module, modules: list[str], from_weights: bool = True,
            activation_bits: int | None = None, packing: str = "base3") -> None:
    """Swap each named ``nn.Linear`` of ``model`` for a ``TernaryLinear`` packed as
    ``packing`` (in place), each quantising its input to ``activation_bits`` per token when
    given. A module that is a ``TernaryLinear`` already keeps its codes and scale (repacked
    if its packing differs) and takes the activation bits.

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
        if isinstance(linear, TernaryLinear):
            new = linear if linear.packing == packing else repacked(linear, packing)
        elif not isinstance(linear, nn.Linear):
            raise ValueError(f"{name} is not a linear layer of this model")
        elif from_weights:
            new = TernaryLinear.from_linear(linear, packing)
        else:
            new = TernaryLinear(linear.in_features, linear.out_features,
                                linear.bias is not None, packing)
        new.activation_bits = activation_bits
        new.input_quantizer = (None if activation_bits is None
                               else partial(quantize_activations, bits=activation_bits))
        setattr(parent, child, new)


def repacked(layer: TernaryLinear, packing: str) -> TernaryLinear:
    """``layer``'s codes, scale and bias in a new layer packed as ``packing``."""
    new = TernaryLinear(layer.in_features, layer.out_features, layer.bias is not None, packing)
    new = new.to(layer.codes.device)
    new.codes.copy_(pack_codes(layer.unpacked_codes(), packing))
    new.scale.copy_(layer.scale)
    if layer.bias is not None:
        new.bias.data.copy_(layer.bias.detach())
    return new


def use_kernel(model: nn.Module, kernel: str) -> None:
    """Make every ``TernaryLinear`` of ``model`` compute with ``kernel`` (one of ``KERNELS``).

    Raises:
        ValueError: an unknown kernel.
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown ternary kernel {kernel!r} (one of {KERNELS})")
    for module in model.modules():
        if isinstance(module, TernaryLinear):
            module.kernel = kernel


def default_modules(model: nn.Module) -> list[str]:
    """The linears BitNet makes ternary: every ``nn.Linear`` but the output head."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return [name for name, m in model.named_modules()
            if isinstance(m, nn.Linear) and m is not head]


def save_ternary(model, tokenizer, out_dir: Path, modules: list[str] | None = None,
                 activation_bits: int | None = None, packing: str = "base3") -> Path:
    """Write ``model`` with ``modules`` (default: ``default_modules``) ternary, in place.

    The directory loads with ``AutoModelForCausalLM.from_pretrained`` after
    ``import runtime.formats``; ``model`` itself is converted in place. With
    ``activation_bits`` the layers quantise their inputs per token, stored and loaded;
    ``packing`` lays the codes out (``runtime.formats.ternary_packing``).
    """
    names = default_modules(model) if modules is None else list(modules)
    convert(model, names, activation_bits=activation_bits, packing=packing)
    digests = {name: layer_digest(model.get_submodule(name)) for name in names}
    model.config.quantization_config = ForgeTernaryConfig(
        modules=names, activation_bits=activation_bits, packing=packing,
        digests=digests).to_dict()
    model.save_pretrained(out_dir)
    if tokenizer is not None:
        tokenizer.save_pretrained(out_dir)
    return Path(out_dir)
