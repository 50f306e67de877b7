"""Make a model's linear layers compute as BitLinear, and undo it.

Weights: a parametrization returns ``ternary_ste(W)`` wherever ``.weight`` is read, so
code that reads weights directly (the Cognate model fuses q/k/v and gate/up projections
by concatenating ``.weight``) gets the ternary weights too. Activations: each attached
layer gets an ``input_quantizer`` (per-token absmax, STE), applied by a forward pre-hook
when the module is called and by ``runtime.nn.inputs.module_input`` at the Cognate
model's fused reads (which use the first layer of the group's quantiser).
``BitLinearHandle.unhooked`` names the layers whose own quantiser did not run in the last
forward: in a Cognate model, the later members of fused groups, whose shared input the
first member's quantiser quantised. Latent weights stay fp32 and are what the optimiser
trains. A weight that is already ternary-valued (zeros and one magnitude g, e.g. a stored
ternary layer made float by ``runtime.bitnet.trainable.to_float``) is first lifted to
``L0 = W / p`` (p: share of nonzeros), whose absmean ternarisation is ``W`` itself, and
gets ``LiftedTernaryWeight``: absmean codes and scale ``g * mean|L| / mean|L0|``, i.e.
BitNet's ``mean|L|`` times a constant that is 1 up to float32 rounding, chosen so that the
first forward computes with exactly ``W`` (float32's ``mean|L0|`` is not exactly ``g``);
training starts from the function the model computed. On ``detach`` such a layer gets the
ternary weight its STE forward used (a ternary layer stays ternary; untrained, exactly
``W``), while other layers keep their latent weights. The STE quantisers of this module
return exactly the quantised value forward (``q + (x - x.detach())``, not
``x + (q - x).detach()``, which can differ from ``q`` by float rounding). A layer that
already quantises its input (``input_quantizer``) gets the STE quantiser while attached
and its own back on ``detach``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import parametrize

from runtime.bitnet.quantizers import (
    absmean_codes,
    quantize_activations,
    ternary_ste,
    ternary_valued,
)
from runtime.utils.parametrized import remove_weight_parametrization


def straight_through(x: torch.Tensor, quantised: torch.Tensor) -> torch.Tensor:
    """``quantised`` exactly in the forward (``x - x.detach()`` is 0), the identity in the
    backward."""
    return quantised + (x - x.detach())


def quantize_activations_ste(x: torch.Tensor, bits: int) -> torch.Tensor:
    """``quantize_activations(x, bits)`` exactly in the forward, the identity backward: what
    a float layer made from a ternary one quantises its input with (``to_float``), so that
    gradients reach the layers before it (``quantize_activations`` alone cuts them)."""
    return straight_through(x, quantize_activations(x, bits))


class TernaryWeight(nn.Module):
    """Parametrization ``W -> ternary_ste(W)``."""

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return ternary_ste(weight)


class LiftedTernaryWeight(nn.Module):
    """Parametrization of a lifted ternary-valued layer: absmean codes of the latent ``L``
    times ``scale * mean|L| / lifted_mean`` (``scale``: the layer's g; ``lifted_mean``:
    float32 ``mean|L0|`` of the lifted latent), straight through. At ``L0`` it is exactly
    ``g * codes``; elsewhere BitNet's absmean up to a factor 1 +- float32 rounding."""

    def __init__(self, scale: float, lifted_mean: float):
        super().__init__()
        self.scale, self.lifted_mean = scale, lifted_mean  # floats: no state_dict entries

    def ternary(self, latent: torch.Tensor) -> torch.Tensor:
        """The ternary weight (no gradient path)."""
        codes, mean = absmean_codes(latent)
        return codes * (self.scale * (mean / self.lifted_mean))

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return straight_through(latent, self.ternary(latent))


class InputQuantizer:
    """Per-token ``bits``-bit activations (STE) for layer ``name``; records that it ran."""

    def __init__(self, bits: int, name: str, called: set[str]):
        self.bits, self.name, self.called = bits, name, called

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.called.add(self.name)
        return quantize_activations_ste(x, self.bits)


def quantize_module_input(module: nn.Module, args: tuple):
    """Forward pre-hook: ``module.input_quantizer`` (if any) applied to the first input."""
    quantize = getattr(module, "input_quantizer", None)
    return None if quantize is None else (quantize(args[0]), *args[1:])


def hook_input_quantizer(linear: nn.Module):
    """Register ``quantize_module_input`` on ``linear`` once; the hook handle, or None when
    ``linear`` has it already."""
    if getattr(linear, "_input_hooked", False):
        return None
    linear._input_hooked = True
    return linear.register_forward_pre_hook(quantize_module_input)


@torch.no_grad()
def lift_ternary_valued(weight: torch.Tensor) -> LiftedTernaryWeight | None:
    """Scale a ternary-valued ``weight`` (zeros and +-g) by 1 / (share of nonzeros) in place
    and give the parametrization that ternarises it back to exactly the weight as it was
    (``LiftedTernaryWeight``); None (weight untouched) for any other weight."""
    exact = ternary_valued(weight)
    if exact is None:
        return None
    weight.mul_(exact[0].numel() / int(exact[0].count_nonzero()))
    return LiftedTernaryWeight(float(exact[1]), float(absmean_codes(weight)[1]))


@dataclass
class BitLinearHandle:
    """What ``attach_bitlinear`` changed, to undo it and to see what it reached."""

    modules: dict[str, nn.Linear]
    orders: dict[str, tuple[str, ...]]
    hooks: dict = field(default_factory=dict)  # name -> the input hook it registered
    called: set[str] = field(default_factory=set)
    previous: dict = field(default_factory=dict)  # name -> the input quantiser it had
    lifted: dict = field(default_factory=dict)  # name -> its LiftedTernaryWeight

    def unhooked(self) -> list[str]:
        """Attached layers whose module was not called since the last ``reset_calls``."""
        return sorted(set(self.modules) - self.called)

    def reset_calls(self) -> None:
        self.called.clear()

    def detach(self) -> None:
        """Remove the quantisers; the latent (trained) weights stay as the layers' weights,
        registered in their original order, except on layers that were ternary-valued when
        attached: those get the ternary weight their STE forward used
        (``LiftedTernaryWeight.ternary`` of the latent weight; untrained, the weight as it
        was)."""
        for name, hook in self.hooks.items():
            hook.remove()
            self.modules[name]._input_hooked = False
        for name, linear in self.modules.items():
            if self.previous.get(name) is None:
                del linear.input_quantizer
            else:
                linear.input_quantizer = self.previous[name]
            lifted = self.lifted.get(name)
            remove_weight_parametrization(linear, self.orders[name])
            if lifted is not None:
                with torch.no_grad():
                    linear.weight.copy_(lifted.ternary(linear.weight))


def attach_bitlinear(model: nn.Module, modules: Sequence[str],
                     activation_bits: int | None) -> BitLinearHandle:
    """Ternary STE weights and ``activation_bits`` STE activations on ``modules`` (None:
    inputs not quantised while attached).

    Raises:
        ValueError: a name that is not an ``nn.Linear`` of ``model``.
    """
    linears = dict(model.named_modules())
    handle = BitLinearHandle({}, {})
    for name in modules:
        linear = linears.get(name)
        if not isinstance(linear, nn.Linear):
            raise ValueError(f"{name} is not a linear layer of this model")
        handle.orders[name] = tuple(linear._parameters)
        lifted = lift_ternary_valued(linear.weight)
        if lifted is not None:
            handle.lifted[name] = lifted
        parametrization = TernaryWeight() if lifted is None else lifted
        parametrize.register_parametrization(linear, "weight", parametrization, unsafe=True)
        handle.modules[name] = linear
        handle.previous[name] = getattr(linear, "input_quantizer", None)
        linear.input_quantizer = (None if activation_bits is None else
                                  InputQuantizer(activation_bits, name, handle.called))
        hook = hook_input_quantizer(linear)
        if hook is not None:
            handle.hooks[name] = hook
    return handle
