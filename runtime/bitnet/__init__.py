"""BitNet b1.58 training pieces (phase 4): straight-through ternary weights and
per-token absmax activations on any model's linear layers.

- ``quantizers``: ``ternary_ste`` and ``activation_ste``, the two quantisers with the
  straight-through estimator;
- ``bitlinear``: ``attach_bitlinear`` / ``BitLinearHandle.detach``: make a model's linears
  compute BitLinear-style (latent fp32 weights trained through the quantisers).

The stored form (packed codes + scales) is ``runtime.formats.ternary``. See REFERENCES.md
(BitNet b1.58) for the formulas.
"""
