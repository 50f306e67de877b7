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
trains.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import parametrize

from runtime.bitnet.quantizers import activation_ste, ternary_ste
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


@dataclass
class BitLinearHandle:
    """What ``attach_bitlinear`` changed, to undo it and to see what it reached."""

    modules: dict[str, nn.Linear]
    orders: dict[str, tuple[str, ...]]
    hooks: list = field(default_factory=list)
    called: set[str] = field(default_factory=set)

    def unhooked(self) -> list[str]:
        """Attached layers whose module was not called since the last ``reset_calls``."""
        return sorted(set(self.modules) - self.called)

    def reset_calls(self) -> None:
        self.called.clear()

    def detach(self) -> None:
        """Remove the quantisers; the latent (trained) weights stay as the layers' weights,
        registered in their original order."""
        for hook in self.hooks:
            hook.remove()
        for name, linear in self.modules.items():
            del linear.input_quantizer
            remove_weight_parametrization(linear, self.orders[name])


def attach_bitlinear(model: nn.Module, modules: Sequence[str], activation_bits: int) -> BitLinearHandle:
    """Ternary STE weights and ``activation_bits`` STE activations on ``modules``.

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
        parametrize.register_parametrization(linear, "weight", TernaryWeight(), unsafe=True)
        handle.modules[name] = linear
        linear.input_quantizer = InputQuantizer(activation_bits, name, handle.called)
        handle.hooks.append(linear.register_forward_pre_hook(
            lambda module, args: (module.input_quantizer(args[0]), *args[1:])))
    return handle
