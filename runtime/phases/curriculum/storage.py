"""A phase after bitnet keeps its input's storage form: ternary in, ternary out.

A ``forge_ternary`` input (the bitnet phase's output) is turned into float layers for
training (``runtime.bitnet.trainable.to_float``: the same function, its codes and scales
remembered), trained through BitLinear's straight-through estimator (``runtime.bitnet``)
and stored ternary again (``save_model``); a float input trains and stays float.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from runtime.bitnet.bitlinear import attach_bitlinear
from runtime.bitnet.trainable import save_model, to_float


def float_form(model):
    """Make a ternary model's layers float in place; its ``TernaryForm`` (None: a float model)."""
    return to_float(model)


@contextmanager
def straight_through(model, form):
    """Within: ternary weights and quantised activations with the straight-through
    estimator on ``form``'s layers (nothing for a float model)."""
    if form is None:
        yield
        return
    handle = attach_bitlinear(model, form.modules, form.activation_bits)
    try:
        yield
    finally:
        handle.detach()


def save_output(model, tokenizer, out: Path, form) -> Path:
    """Write the model in its input's form: ``forge_ternary`` or plain safetensors."""
    return Path(save_model(model, tokenizer, out, form))
