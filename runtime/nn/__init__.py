"""The Cognate model (TRM x Titans-MAG) as a transformers causal LM.

Importing this package registers ``TrmTitansMagConfig`` / ``TrmTitansMagForCausalLM`` with
``AutoConfig`` and ``AutoModelForCausalLM`` (model type ``"trm_titans_mag"``), so a saved
directory loads with ``AutoModelForCausalLM.from_pretrained(path)``; it also imports
``runtime.formats``, so directories a phase stored in a form of its own load the same way.
"""

from transformers import AutoConfig, AutoModelForCausalLM

import runtime.formats  # noqa: F401  (registers the stored model forms; see its docstring)
from runtime.nn.config import MODEL_TYPE, TrmTitansMagConfig
from runtime.nn.model import TrmCausalLMOutput, TrmTitansMagForCausalLM
from runtime.nn.presets import PRESETS, preset_config

AutoConfig.register(MODEL_TYPE, TrmTitansMagConfig, exist_ok=True)
AutoModelForCausalLM.register(TrmTitansMagConfig, TrmTitansMagForCausalLM, exist_ok=True)

__all__ = [
    "MODEL_TYPE",
    "PRESETS",
    "TrmCausalLMOutput",
    "TrmTitansMagConfig",
    "TrmTitansMagForCausalLM",
    "preset_config",
]
