"""BitNet b1.58 training pieces (phase 4): straight-through ternary weights and
per-token absmax activations on any model's linear layers.

- ``quantizers``: ``ternary_ste`` and ``activation_ste``, the two quantisers with the
  straight-through estimator;
- ``bitlinear``: ``attach_bitlinear`` / ``BitLinearHandle.detach``: make a model's linears
  compute BitLinear-style (latent fp32 weights trained through the quantisers);
- ``trainable``: for phases after bitnet, ``ternary_form`` / ``to_float`` (a stored ternary
  model made trainable) and ``save_model`` (stored again in the input's form).

The stored form (packed codes + scales) is ``runtime.formats.ternary``. See REFERENCES.md
(BitNet b1.58) for the formulas.
"""

from runtime.bitnet.bitlinear import BitLinearHandle, attach_bitlinear

_TRAINABLE = ("TernaryForm", "save_model", "ternary_form", "to_float")


def __getattr__(name: str):
    """``trainable``'s names, imported on first use: ``runtime.formats.ternary`` (which
    ``trainable`` needs) imports ``runtime.bitnet.quantizers`` and so this package."""
    if name in _TRAINABLE:
        from runtime.bitnet import trainable

        return getattr(trainable, name)
    raise AttributeError(f"module 'runtime.bitnet' has no attribute {name!r}")

__all__ = ["BitLinearHandle", "TernaryForm", "attach_bitlinear", "save_model", "ternary_form",
           "to_float"]
