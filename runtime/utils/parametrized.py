"""Removing a weight parametrization without reordering the layer's parameters.

``torch.nn.utils.parametrize.remove_parametrizations`` re-registers ``weight`` after
``bias``. Optimisers and gradient clipping walk parameters in registration order, so a
layer that was parametrized (LoRA while baking, BitLinear while fine-tuning) must come
back in its original order to train exactly like the same weights loaded from a file.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils import parametrize


def remove_weight_parametrization(linear: nn.Module, order: tuple[str, ...]) -> None:
    """Drop ``linear.weight``'s parametrization (keeping the original tensor) and register
    its parameters in ``order`` (``tuple(linear._parameters)`` before it was added)."""
    parametrize.remove_parametrizations(linear, "weight", leave_parametrized=False)
    linear._parameters = type(linear._parameters)((k, linear._parameters[k]) for k in order)
