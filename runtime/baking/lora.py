"""LoRA adapters of our own, as parametrizations of ``nn.Linear.weight``.

Why not ``peft``: peft's ``lora.Linear`` wraps a linear layer and adds ``B A x`` in the
wrapper's ``forward``; its ``.weight`` still returns the base layer's unchanged matrix
until the adapter is merged. The Cognate model (``runtime.nn``) reads ``.weight`` of most
of its linears directly to build fused projections (``MagBlock.constants`` concatenates
q/k/v and the memory's query/key/value/gates weights; ``SwiGLU.fused_weight`` gate/up), so
under peft those adapters are silently skipped. Measured with peft 0.21.2 on a tiny
Cognate model (LoRA on all these linears, one adapter's ``B`` set non-zero at a time): the
logits change for ``o_proj``, ``down_proj``, ``mag_gate``, ``k_proj`` and ``v_proj``, and
do not for ``q_proj``, ``gate_proj``, ``up_proj`` or any memory projection. Worse,
``k_proj``/``v_proj`` adapters reach only the persistent tokens' keys and values (computed
through the module), not the sequence's (computed from the fused weight).

A parametrization (``torch.nn.utils.parametrize``) replaces the ``.weight`` attribute
itself, so every read — the module's own forward or a fused ``torch.cat`` — sees
``W + (B @ A) * scale``. ``B`` starts at zero, so an attached adapter changes no output
(``W + 0 == W`` exactly), and it works the same for any ``transformers`` model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import parametrize

from runtime.utils.parametrized import remove_weight_parametrization


class LoraDelta(nn.Module):
    """Parametrization ``W -> W + (B @ A) * scale`` of one (out, in) weight.

    ``A`` (rank, in) starts Kaiming-uniform (seeded), ``B`` (out, rank) at zero, as in
    LoRA (Hu et al., arXiv:2106.09685); ``scale`` is ``alpha / rank``.
    """

    def __init__(self, weight: torch.Tensor, rank: int, scale: float,
                 generator: torch.Generator) -> None:
        super().__init__()
        out_f, in_f = weight.shape
        bound = 1.0 / math.sqrt(in_f)
        a = (torch.rand(rank, in_f, generator=generator) * 2 - 1) * bound  # (r, in)
        self.lora_a = nn.Parameter(a.to(device=weight.device, dtype=weight.dtype))
        self.lora_b = nn.Parameter(weight.new_zeros(out_f, rank))  # (out, r)
        self.scale = scale

    def delta(self) -> torch.Tensor:
        """The full-strength weight delta ``(B @ A) * scale`` (out, in)."""
        return (self.lora_b @ self.lora_a) * self.scale  # (out, in)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        """The adapted weight (out, in)."""
        return weight + self.delta()


@dataclass
class Adapters:
    """The LoRA adapters attached to one model.

    Attributes:
        modules: adapted module name -> its ``nn.Linear`` (parametrized while attached).
        deltas: adapted module name -> its :class:`LoraDelta`.
    """

    modules: dict[str, nn.Linear]
    deltas: dict[str, LoraDelta]
    orders: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def parameters(self) -> list[nn.Parameter]:
        """Every trainable adapter parameter, in a fixed order."""
        return [p for name in sorted(self.deltas) for p in (self.deltas[name].lora_a,
                                                              self.deltas[name].lora_b)]

    def named_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """``(name, parameter)`` pairs, e.g. for MuGrokfast (all 2-D: routed to Muon)."""
        return [(f"{name}.{part}", getattr(self.deltas[name], part))
                for name in sorted(self.deltas) for part in ("lora_a", "lora_b")]


def target_linears(model: nn.Module) -> dict[str, nn.Linear]:
    """Every ``nn.Linear`` of ``model`` except the output head (and any linear whose weight
    is shared with an embedding, i.e. a tied head): the modules baking adapts."""
    get_out = getattr(model, "get_output_embeddings", None)
    head = get_out() if callable(get_out) else None
    tied = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    return {name: m for name, m in model.named_modules()
            if isinstance(m, nn.Linear) and m is not head and id(m.weight) not in tied}


def attach_adapters(model: nn.Module, rank: int, *, seed: int,
                    alpha: float | None = None) -> Adapters:
    """Parametrize every :func:`target_linears` weight with a fresh :class:`LoraDelta`.

    Args:
        model: any torch model (Cognate, Llama, ...); modified in place.
        rank: LoRA rank (capped per matrix at ``min(out, in)``).
        seed: seeds the ``A`` matrices (modules in name order).
        alpha: LoRA alpha; None = ``rank`` (scale 1).

    Returns:
        The :class:`Adapters`; the model's outputs are unchanged until they are trained.
    """
    generator = torch.Generator().manual_seed(seed)
    modules, deltas, orders = {}, {}, {}
    for name, linear in sorted(target_linears(model).items()):
        orders[name] = tuple(linear._parameters)
        r = min(rank, *linear.weight.shape)
        delta = LoraDelta(linear.weight.detach(), r, float(alpha or rank) / rank, generator)
        parametrize.register_parametrization(linear, "weight", delta, unsafe=True)
        modules[name], deltas[name] = linear, delta
    return Adapters(modules, deltas, orders)


def _unparametrize(adapters: Adapters, name: str) -> None:
    """Remove ``name``'s parametrization, its parameters back in their original order."""
    linear = adapters.modules[name]
    remove_weight_parametrization(linear, adapters.orders.get(name, tuple(linear._parameters)))


@torch.no_grad()
def merge_adapters(adapters: Adapters, strength: float = 1.0) -> None:
    """Fold the adapters into plain weights: ``W <- W + strength * (B @ A) * scale``.

    ``strength`` < 1 is our "half-baking" variant (the design's per-iteration strength):
    the trained delta is scaled, not the training stopped early as in the paper. The
    parametrizations are removed, so the model is left with ordinary ``nn.Linear`` modules
    and its ``state_dict`` has its original keys (``save_pretrained`` works as before).
    """
    for name, linear in adapters.modules.items():
        delta = strength * adapters.deltas[name].delta()  # (out, in)
        _unparametrize(adapters, name)
        linear.weight.add_(delta)


def detach_adapters(adapters: Adapters) -> None:
    """Remove the adapters without applying them (the model gets its original weights)."""
    for name in adapters.modules:
        _unparametrize(adapters, name)
