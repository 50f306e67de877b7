"""Stored model forms beyond plain safetensors weights, one module per form.

A phase that stores a model in a form of its own (BitNet's packed ternary codes, phase 8's
compressed forms) writes a normal Hugging Face directory whose ``config.json`` carries a
``quantization_config`` naming the form (``quant_method``). Each form's module registers
that name with transformers' quantizer registry: before the weights load, its quantizer
swaps the named ``nn.Linear`` modules for modules that hold the stored tensors. So one
call, ``AutoModelForCausalLM.from_pretrained(path)``, loads every form, in every later
phase (``runtime.phases.toolkit.inputs``) and in a user's own code after
``import runtime.formats`` (``import runtime.nn`` does it too).

Adding a form is one module here, imported below: a ``QuantizationConfigMixin``, an
``HfQuantizer`` and a save function, registered under a ``forge_*`` name.
"""

# ternary first: the compressed form builds on its packing (this order is the point)
from runtime.formats import ternary  # noqa: F401, I001  (registers ``forge_ternary``)
from runtime.compression import stored as _compressed  # noqa: F401  (``forge_compressed``)

# The forms this build loads. The compressed form's name is written out: reading it from
# its module here can meet that module half-imported (transformers' import hook).
FORMATS = (ternary.NAME, "forge_compressed")

__all__ = ["FORMATS", "ternary"]
