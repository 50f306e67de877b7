"""``forge_compressed``: phase 8's stored form, loaded by ``from_pretrained``.

A normal Hugging Face directory (safetensors + JSON only). ``config.json`` carries a
``quantization_config`` with ``quant_method = "forge_compressed"`` and, per compressed
linear layer, its method (``seedlm``, ``vptq``, ``hyper``, or ``ternary`` for a BitNet
layer kept as it was) and settings; the weights file holds each layer's packed code
tensors (``<layer>.<tensor>``) and the codebooks shared by a stage's layers (module
``compression_codebooks``, float16). Embeddings, norms, the output head and layers no
stage changed are stored as the input had them. ``digests`` in the config hold a sha256
of every code tensor: a file whose codes were truncated, bit-flipped or swapped is
refused with a ValueError naming the file, never decoded into wrong weights.

Loading: the quantizer (registered under the name above on import) swaps the listed
``nn.Linear`` modules for ``CompressedLinear`` before the weights load; each decodes its
dense weight once, on first use. With ``activation_bits`` (a BitNet-trained input) every
compressed layer quantises its input per token, as the input model did.
"""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path

import torch
from torch import nn
from transformers.quantizers import register_quantization_config, register_quantizer
from transformers.quantizers.base import HfQuantizer
from transformers.utils.quantization_config import QuantizationConfigMixin

from runtime.compression import hyper, seedlm, vptq
from runtime.compression.codes import LayerCode, Layout, meta_int

NAME = "forge_compressed"
SHARED = "compression_codebooks"  # the module holding shared codebooks
MAX_LAYERS = 100_000  # a config listing more is refused before anything is built


def _packing(meta: dict) -> str:
    # imported here: runtime.formats imports this module to register the form
    from runtime.formats.ternary_packing import PACKINGS

    packing = meta.get("packing", "base3")
    if packing not in PACKINGS:
        raise ValueError(f"{NAME}: unknown ternary packing {packing!r}")
    return packing


def _ternary_layout(meta: dict, shape: tuple[int, int]) -> Layout:
    """A BitNet layer kept as it was: its packed codes and scale (``forge_ternary``'s)."""
    from runtime.formats.ternary_packing import packed_size

    return {"codes": ((packed_size(shape[0] * shape[1], _packing(meta)),), torch.uint8),
            "scale": ((), torch.float32)}


def _ternary_decode(code: LayerCode, shared) -> torch.Tensor:
    from runtime.formats.ternary_packing import unpack_codes

    codes = unpack_codes(code.tensors["codes"], code.shape[0] * code.shape[1],
                         _packing(code.meta))
    return codes.view(code.shape).float() * code.tensors["scale"].float()


LAYOUTS = {"seedlm": seedlm.layout, "vptq": vptq.layout, "hyper": hyper.layout,
           "ternary": _ternary_layout}
DECODERS = {"seedlm": lambda c, s: seedlm.decode(c), "vptq": vptq.decode,
            "hyper": lambda c, s: hyper.decode(c), "ternary": _ternary_decode}


def layout_of(method: str, meta: dict, shape: tuple[int, int]) -> Layout:
    """Stored tensors of a layer. Raises ValueError for an unknown method or bad meta."""
    if method not in LAYOUTS or not isinstance(meta, dict):
        raise ValueError(f"{NAME}: unknown compression method {method!r}")
    return LAYOUTS[method](meta, shape)


class SharedTensors(nn.Module):
    """Codebooks shared by the layers of a stage: buffers by name."""

    def __init__(self, specs: dict[str, tuple[tuple[int, ...], torch.dtype]]):
        super().__init__()
        for name, (shape, dtype) in specs.items():
            self.register_buffer(name, torch.zeros(shape, dtype=dtype))

    def as_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.named_buffers())


class CompressedLinear(nn.Module):
    """A linear layer stored as a compressed code; ``weight`` is decoded on first use."""

    def __init__(self, method: str, meta: dict, linear_shape: tuple[int, int], bias: bool,
                 shared: SharedTensors | None):
        super().__init__()
        self.out_features, self.in_features = linear_shape
        self.method, self.meta = method, dict(meta)
        self._names = tuple(layout_of(method, meta, linear_shape))
        for name, (shape, dtype) in layout_of(method, meta, linear_shape).items():
            self.register_buffer(name, torch.zeros(shape, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(self.out_features)) if bias else None
        self._shared = [shared]  # a list: not a submodule, so not saved twice
        self.input_quantizer = None
        self._dense: tuple[tuple, torch.Tensor] | None = None

    def code(self) -> LayerCode:
        """The stored code of this layer."""
        return LayerCode(self.method, (self.out_features, self.in_features), self.meta,
                         {n: getattr(self, n) for n in self._names})

    @property
    def weight(self) -> torch.Tensor:
        """The decoded (out, in) float32 weight, rebuilt when a stored tensor changes."""
        tensors = [getattr(self, n) for n in self._names]
        version = tuple((t._version, t.data_ptr()) for t in tensors)
        if self._dense is None or self._dense[0] != version:
            shared = self._shared[0].as_dict() if self._shared[0] is not None else {}
            cpu = LayerCode(self.method, (self.out_features, self.in_features), self.meta,
                            {n: t.cpu() for n, t in zip(self._names, tensors, strict=True)})
            dense = DECODERS[self.method](cpu, {k: v.cpu() for k, v in shared.items()})
            self._dense = (version, dense.to(tensors[0].device))
        return self._dense[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_quantizer is not None:
            x = self.input_quantizer(x)
        return nn.functional.linear(x, self.weight.to(x.dtype), self.bias)  # (..., out)


def tensor_digest(tensor: torch.Tensor) -> str:
    """sha256 of a tensor's bytes (its dtype as stored, C order)."""
    data = tensor.detach().contiguous().cpu()
    return hashlib.sha256(data.view(torch.uint8).numpy().tobytes() if data.dim()
                          else data.reshape(1).view(torch.uint8).numpy().tobytes()).hexdigest()


def _check_entry(name, entry) -> tuple[str, dict]:
    if not isinstance(name, str) or not isinstance(entry, dict):
        raise ValueError(f"{NAME}: quantization_config.layers must map module names to "
                         "{method, meta}")
    method, meta = entry.get("method"), entry.get("meta")
    if method not in LAYOUTS or not isinstance(meta, dict):
        raise ValueError(f"{NAME}: layer {name!r} has no known method and settings")
    return method, meta


def _check_shared(shared) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    from runtime.compression.codes import DTYPES

    if not isinstance(shared, dict):
        raise ValueError(f"{NAME}: quantization_config.shared must be a mapping")
    out = {}
    for name, entry in shared.items():
        shape = entry.get("shape") if isinstance(entry, dict) else None
        dtype = DTYPES.get(entry.get("dtype")) if isinstance(entry, dict) else None
        if (not isinstance(name, str) or not name.isidentifier() or dtype is None
                or not isinstance(shape, list) or len(shape) != 2
                or not all(isinstance(s, int) and 1 <= s <= 2**20 for s in shape)):
            raise ValueError(f"{NAME}: shared tensor {name!r} is not a (k, v) codebook")
        out[name] = (tuple(shape), dtype)
    return out


@register_quantization_config(NAME)
class ForgeCompressedConfig(QuantizationConfigMixin):
    """``quantization_config`` of a ``forge_compressed`` model (see the module docstring)."""

    def __init__(self, layers: dict | None = None, shared: dict | None = None,
                 digests: dict | None = None, activation_bits: int | None = None, **kwargs):
        layers, shared, digests = layers or {}, shared or {}, digests or {}
        if not isinstance(layers, dict) or len(layers) > MAX_LAYERS:
            raise ValueError(f"{NAME}: quantization_config.layers must be a mapping of at "
                             f"most {MAX_LAYERS} layers")
        for name, entry in layers.items():
            _check_entry(name, entry)
        _check_shared(shared)
        if not isinstance(digests, dict) or not all(isinstance(v, str)
                                                    for v in digests.values()):
            raise ValueError(f"{NAME}: quantization_config.digests must map names to sha256")
        if activation_bits is not None:
            meta_int({"activation_bits": activation_bits}, "activation_bits", 2, 16)
        self.quant_method = NAME
        self.layers, self.shared, self.digests = layers, shared, digests
        self.activation_bits = activation_bits


def convert(model: nn.Module, layers: dict, shared: dict, activation_bits: int | None) -> None:
    """Swap each listed linear of ``model`` for an empty ``CompressedLinear`` (in place)
    and add the shared codebooks module.

    Raises:
        ValueError: a listed name that is not a linear layer of the model, or bad settings.
    """
    from runtime.bitnet.quantizers import quantize_activations  # here: runtime.formats imports us

    holder = SharedTensors(_check_shared(shared)) if shared else None
    if holder is not None:
        model.add_module(SHARED, holder)
    for name, entry in layers.items():
        method, meta = _check_entry(name, entry)
        parent_name, _, child = name.rpartition(".")
        try:
            parent = model.get_submodule(parent_name) if parent_name else model
        except AttributeError:
            raise ValueError(f"{NAME}: {name} is not a module of this model") from None
        old = getattr(parent, child, None)
        if not isinstance(old, nn.Module) or not hasattr(old, "in_features"):
            raise ValueError(f"{NAME}: {name} is not a linear layer of this model")
        new = CompressedLinear(method, meta, (old.out_features, old.in_features),
                               getattr(old, "bias", None) is not None, holder)
        if activation_bits is not None:
            new.input_quantizer = partial(quantize_activations, bits=activation_bits)
        setattr(parent, child, new)


def _stored_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every code tensor and shared codebook of a converted model, by state-dict key."""
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, CompressedLinear):
            out |= {f"{name}.{n}": t for n, t in module.code().tensors.items()}
        elif isinstance(module, SharedTensors):
            out |= {f"{name}.{n}": t for n, t in module.as_dict().items()}
    return out


def check_header(model: nn.Module, checkpoint_files) -> None:
    """Every code tensor is in the weights files with the shape and dtype the config gives.

    Raises:
        ValueError: a file that is not readable safetensors (truncated) or lacks a tensor,
            naming the file.
    """
    from runtime.formats.ternary_checks import read_headers

    found = read_headers(checkpoint_files)
    files = ", ".join(str(p) for p in checkpoint_files) or "(no weights file)"
    names = {torch.uint8: "U8", torch.float16: "F16", torch.float32: "F32"}
    for key, tensor in _stored_tensors(model).items():
        want = (tuple(tensor.shape), names[tensor.dtype])
        if key not in found or found[key][:2] != want:
            where = found[key][2] if key in found else files
            raise ValueError(f"{where}: compressed tensor {key} is missing or not "
                             f"{want[1]}{list(want[0])}; the file is damaged")


def check_digests(model: nn.Module, digests: dict, checkpoint_files) -> None:
    """The loaded code tensors match the digests written with them.

    Raises:
        ValueError: a tensor without a digest, or one whose bytes changed (naming the file).
    """
    files = ", ".join(str(p) for p in checkpoint_files) or "the weights file"
    for key, tensor in _stored_tensors(model).items():
        if digests.get(key) != tensor_digest(tensor):
            raise ValueError(f"{files}: compressed tensor {key} does not match its sha256 in "
                             "config.json (corrupt or edited)")


@register_quantizer(NAME)
class ForgeCompressedQuantizer(HfQuantizer):
    """Loads ``forge_compressed`` directories (see the module docstring)."""

    requires_calibration = True  # only loads what ``save_compressed`` wrote

    def validate_environment(self, *args, **kwargs) -> None:
        return None

    def _process_model_before_weight_loading(self, model, checkpoint_files=None,
                                             **kwargs) -> None:
        cfg = self.quantization_config
        self._files = [str(p) for p in (checkpoint_files or [])]
        convert(model, cfg.layers, cfg.shared, cfg.activation_bits)
        check_header(model, self._files)

    def _process_model_after_weight_loading(self, model, **kwargs):
        check_digests(model, self.quantization_config.digests, getattr(self, "_files", []))
        return model

    def is_serializable(self, *args, **kwargs) -> bool:
        return True

    @property
    def is_trainable(self) -> bool:
        return False


def install(model: nn.Module, codes: dict[str, LayerCode], shared: dict[str, torch.Tensor],
            activation_bits: int | None = None) -> dict:
    """Put ``codes`` into ``model`` in place (``CompressedLinear`` layers holding them,
    biases kept) and return the ``quantization_config`` that describes them."""
    layers = {name: {"method": c.method, "meta": c.meta} for name, c in codes.items()}
    spec = {name: {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")}
            for name, t in shared.items()}
    biases = {name: getattr(model.get_submodule(name), "bias", None) for name in codes}
    if hasattr(model, SHARED):
        delattr(model, SHARED)
    convert(model, layers, spec, activation_bits)
    with torch.no_grad():
        for name, code in codes.items():
            module = model.get_submodule(name)
            for key, tensor in code.tensors.items():
                getattr(module, key).copy_(tensor)
            if biases[name] is not None:
                module.bias.copy_(biases[name])
        if shared:
            for key, tensor in shared.items():
                getattr(model.get_submodule(SHARED), key).copy_(tensor)
    digests = {key: tensor_digest(t) for key, t in _stored_tensors(model).items()}
    return ForgeCompressedConfig(layers=layers, shared=spec, digests=digests,
                                 activation_bits=activation_bits).to_dict()


def save_compressed(model, tokenizer, out_dir: Path, codes: dict[str, LayerCode],
                    shared: dict[str, torch.Tensor], activation_bits: int | None = None) -> Path:
    """Write ``model`` with ``codes`` in the ``forge_compressed`` form (model changed in
    place); it loads with ``AutoModelForCausalLM.from_pretrained`` after
    ``import runtime.compression.stored``."""
    model.config.quantization_config = install(model, codes, shared, activation_bits)
    model.save_pretrained(out_dir)
    if tokenizer is not None:
        tokenizer.save_pretrained(out_dir)
    return Path(out_dir)
