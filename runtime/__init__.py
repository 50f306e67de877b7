"""runtime: executes compiled plans — orchestrator, registry, artifacts, kernels.

This top-level module stays free of torch so that torch-free pieces (the SQLite
registry, the workspace lock) can be used by ``forge plan``. After ``import runtime``,
``AutoModelForCausalLM.from_pretrained`` loads the Cognate model and every stored form a
phase writes: the registration runs when transformers is imported
(``runtime.transformers_hook``).
"""

from runtime import transformers_hook as _transformers_hook

_transformers_hook.install()
