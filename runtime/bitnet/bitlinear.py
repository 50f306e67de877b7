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
``W / p`` (p: share of nonzeros), the latent weight whose absmean ternarisation is ``W``
itself, so training starts from the function the model computed; on ``detach`` such a
layer gets the ternary weight ``gamma W~`` of its trained latent weight (a ternary layer
stays ternary: the model then computes what the STE forward did, and is stored as exactly
that), while other layers keep their latent weights. A layer that already quantises its
input (``input_quantizer``) gets the STE quantiser while attached and its own back on
``detach``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import parametrize

from runtime.bitnet.quantizers import (
    activation_ste,
    ternary_ste,
    ternary_valued,
    ternary_weight,
)
from runtime.utils.parametrized import remove_weight_parametrization


class TernaryWeight(nn.Module):
    """Parametrization ``W -> ternary_ste(W)``."""

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return ternary_ste(weight)


class InputQuantizer:
    """Per-token ``bits``-bit activations (STE) for layer ``name``; records that it ran."""

    def __init__(self, bits: int, name: str, called: set[str]):
        self.bits, self.name, self.called = bits, name, called

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.called.add(self.name)
        return activation_ste(x, self.bits)


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
def lift_ternary_valued(weight: torch.Tensor) -> bool:
    """Scale a ternary-valued ``weight`` (zeros and +-g) by 1 / (share of nonzeros) in place,
    so that its absmean ternarisation is the weight as it was; True when it did."""
    exact = ternary_valued(weight)
    if exact is None:
        return False
    weight.mul_(exact[0].numel() / int(exact[0].count_nonzero()))
    return True


@dataclass
class BitLinearHandle:
    """What ``attach_bitlinear`` changed, to undo it and to see what it reached."""

    modules: dict[str, nn.Linear]
    orders: dict[str, tuple[str, ...]]
    hooks: dict = field(default_factory=dict)  # name -> the input hook it registered
    called: set[str] = field(default_factory=set)
    previous: dict = field(default_factory=dict)  # name -> the input quantiser it had
    lifted: set[str] = field(default_factory=set)  # ternary-valued when attached

    def unhooked(self) -> list[str]:
        """Attached layers whose module was not called since the last ``reset_calls``."""
        return sorted(set(self.modules) - self.called)

    def reset_calls(self) -> None:
        self.called.clear()

    def detach(self) -> None:
        """Remove the quantisers; the latent (trained) weights stay as the layers' weights,
        registered in their original order, except on layers that were ternary-valued when
        attached: those get ``gamma W~`` of their latent weights."""
        for name, hook in self.hooks.items():
            hook.remove()
            self.modules[name]._input_hooked = False
        for name, linear in self.modules.items():
            if self.previous.get(name) is None:
                del linear.input_quantizer
            else:
                linear.input_quantizer = self.previous[name]
            remove_weight_parametrization(linear, self.orders[name])
            if name in self.lifted:
                with torch.no_grad():
                    linear.weight.copy_(ternary_weight(linear.weight))


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
        if lift_ternary_valued(linear.weight):
            handle.lifted.add(name)
        parametrize.register_parametrization(linear, "weight", TernaryWeight(), unsafe=True)
        handle.modules[name] = linear
        handle.previous[name] = getattr(linear, "input_quantizer", None)
        linear.input_quantizer = (None if activation_bits is None else
                                  InputQuantizer(activation_bits, name, handle.called))
        hook = hook_input_quantizer(linear)
        if hook is not None:
            handle.hooks[name] = hook
    return handle
