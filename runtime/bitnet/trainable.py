"""Train a stored ternary model in a later phase, and store it ternary again.

A phase after ``bitnet`` keeps its input's storage form (ternary in, ternary out; float in,
float out). For a ``forge_ternary`` input::

    form = to_float(model)          # TernaryLinear -> nn.Linear holding gamma * codes
    handle = attach_bitlinear(model, form.modules, form.activation_bits)  # STE training
    ...train...
    handle.detach()
    save_model(model, tokenizer, out_dir, form)   # packed codes + scales again

``to_float`` leaves a model that computes exactly what the ternary one did (same weights,
same per-token activation quantiser, forward to the bit) and that trains: the quantiser
passes gradients straight through (the stored layer's own cuts them, so LoRA, SVF or any
float training would reach only the layers whose outputs join the residual stream). Each
new linear remembers the codes and scale it came from, so a layer whose weight is unchanged
is stored with exactly those codes and that scale. ``save_model`` re-stores a changed layer
with ``requantised``: absmean codes (as BitNet chooses them) and the least-squares scale for
those codes, ``<W, C> / <C, C>``, which is ``gamma`` itself for ``W = gamma * C`` (the
absmean scale would be ``gamma * (share of nonzero codes)``: every phase would shrink the
scales). ``attach_bitlinear`` starts the STE from the same function: it lifts a
ternary-valued weight to a latent weight whose ternarisation is exactly that weight
(``runtime.bitnet.bitlinear``). For a float model every function passes through:
``to_float`` and ``ternary_form`` give None and ``save_model`` writes plain safetensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import parametrize

from runtime.bitnet.bitlinear import hook_input_quantizer, quantize_activations_ste
from runtime.bitnet.quantizers import absmean_codes
from runtime.formats.ternary import TernaryLinear, TernarySource, save_ternary


@dataclass(frozen=True)
class TernaryForm:
    """How a model's ternary layers were stored: which linears, and their input quantiser
    (``activation_bits``, None: inputs not quantised); ``packing`` is the codes' layout."""

    modules: list[str] = field(default_factory=list)
    activation_bits: int | None = None
    packing: str = "base3"


def ternary_form(model: nn.Module) -> TernaryForm | None:
    """The ternary form of ``model``'s ``TernaryLinear`` layers, or None for a float model.

    Raises:
        ValueError: ternary layers with different activation bits or packings (not a form
            ``save_ternary`` writes).
    """
    layers = {name: m for name, m in model.named_modules() if isinstance(m, TernaryLinear)}
    if not layers:
        return None
    bits = {m.activation_bits for m in layers.values()}
    packings = {m.packing for m in layers.values()}
    if len(bits) != 1 or len(packings) != 1:
        raise ValueError(f"the ternary layers mix activation bits {sorted(map(str, bits))} or "
                         f"packings {sorted(packings)}; one form per model")
    return TernaryForm(modules=list(layers), activation_bits=bits.pop(), packing=packings.pop())


def to_float(model: nn.Module) -> TernaryForm | None:
    """Replace every ``TernaryLinear`` of ``model`` (in place) by an ``nn.Linear`` whose weight
    is ``gamma * codes`` (float32, bias kept), quantising its input per token as the ternary
    layer did. Returns the form to store the model in again, or None (a float model, left
    unchanged). The model no longer counts as quantised for transformers (its
    ``quantization_config`` is dropped; ``save_model`` writes the form's again)."""
    form = ternary_form(model)
    if form is None:
        return None
    for name in form.modules:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, float_linear(getattr(parent, child)))
    model.hf_quantizer = None
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    return form


def float_linear(layer: TernaryLinear) -> nn.Linear:
    """The ``nn.Linear`` computing what ``layer`` computes; it remembers ``layer``'s codes and
    scale (``ternary_source``) and, with activation bits, quantises its input the same way
    (straight through in the backward)."""
    device = layer.codes.device
    linear = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None,
                       device=device)
    with torch.no_grad():
        linear.weight.copy_(layer.weight)
        if layer.bias is not None:
            linear.bias.copy_(layer.bias)
    linear.ternary_source = TernarySource(layer.unpacked_codes(), layer.scale.detach().clone())
    if layer.input_quantizer is not None:  # fused reads apply it too (runtime.nn.inputs)
        linear.input_quantizer = partial(quantize_activations_ste, bits=layer.activation_bits)
        hook_input_quantizer(linear)
    return linear


def save_model(model: nn.Module, tokenizer, out_dir: Path, form: TernaryForm | None) -> Path:
    """Store ``model`` (and ``tokenizer`` when given) in ``out_dir``: ``forge_ternary`` with
    ``form``'s modules, activation bits and packing when ``form`` is given (``save_ternary``;
    the model's layers become ``TernaryLinear`` in place), plain safetensors otherwise.

    Raises:
        ValueError: no form for a model that still holds ternary layers.
    """
    out_dir = Path(out_dir)
    if form is not None:
        keep_requantised(model, form.modules)
        return save_ternary(model, tokenizer, out_dir, form.modules, form.activation_bits,
                            packing=form.packing)
    if ternary_form(model) is not None:
        raise ValueError("this model holds ternary layers; save it with its TernaryForm "
                         "(ternary_form(model)) or make it float first (to_float)")
    model.save_pretrained(out_dir)
    if tokenizer is not None:
        tokenizer.save_pretrained(out_dir)
    return out_dir


@torch.no_grad()
def requantised(linear: nn.Linear) -> TernarySource:
    """The codes (int8) and scale to store ``linear`` as: its ``ternary_source`` while its
    weight is still exactly that; else absmean codes C of the weight W (BitNet's choice) and
    the least-squares scale for them, ``<W, C> / <C, C>`` (summed in float64: exactly
    ``gamma`` for ``W = gamma * C``; the absmean gamma for all-zero codes)."""
    weight = linear.weight.detach().float()
    source = getattr(linear, "ternary_source", None)
    if source is not None and source.codes.shape == weight.shape:
        codes, scale = source.codes.to(weight.device), source.scale.to(weight.device)
        if torch.equal(weight, codes.float() * scale):
            return TernarySource(codes, scale)
    codes, gamma = absmean_codes(weight)
    count = int(codes.count_nonzero())
    if count:
        gamma = ((weight.double() * codes.double()).sum() / count).float()
    return TernarySource(codes.to(torch.int8), gamma.reshape(()).clone())


@torch.no_grad()
def keep_requantised(model: nn.Module, modules: list[str]) -> None:
    """Give each float linear of ``modules`` its ``requantised`` weight ``scale * codes`` (and
    that as its ``ternary_source``), so ``save_ternary`` stores exactly those codes and scale.

    Raises:
        ValueError: a linear that is still parametrized (adapters or BitLinear attached).
    """
    for name in modules:
        linear = model.get_submodule(name)
        if not isinstance(linear, nn.Linear):
            continue  # a TernaryLinear already is what it stores
        if parametrize.is_parametrized(linear):
            raise ValueError(f"{name} is still parametrized: merge or detach its adapters "
                             "(or BitLinear) before saving")
        source = requantised(linear)
        linear.weight.copy_(source.codes.float() * source.scale)
        linear.ternary_source = source
