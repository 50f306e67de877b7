"""Config compatibility: refuse merges of models whose configs compute different functions.

Two checkpoints can have equal tensor shapes and still be different networks: Llama and
Mistral, or one model trained with ``rope_theta = 10000`` and one with ``1e6``. Averaging
their weights and writing the first config gives a model that neither input describes.
Like mergekit (which asks for ``--allow-crimes``), a merge refuses such inputs unless the
request says ``allow_config_mismatch=True``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Config fields that change what the network computes (or how its weights are read).
FUNCTION_FIELDS = (
    "architectures", "model_type",
    # activations and norms
    "hidden_act", "activation_function", "hidden_activation", "rms_norm_eps",
    "layer_norm_eps", "layer_norm_epsilon", "norm_eps",
    # positions
    "rope_theta", "rope_scaling", "rope_parameters", "partial_rotary_factor",
    "position_embedding_type", "sliding_window", "use_sliding_window",
    # widths, heads and vocabulary
    "vocab_size", "hidden_size", "n_embd", "intermediate_size", "n_inner", "head_dim",
    "num_attention_heads", "n_head", "num_key_value_heads", "tie_word_embeddings",
    "attention_bias", "mlp_bias", "scale_attn_weights", "scale_attn_by_inverse_layer_idx",
    "reorder_and_upcast_attn", "attn_logit_softcapping", "final_logit_softcapping",
    "query_pre_attn_scalar",
    # Cognate (runtime.nn)
    "d_model", "d_ff", "n_heads", "n_cycles", "n_latent_steps", "n_persistent", "rms_eps",
    "window", "tie_embeddings",
    # depth (same-shape techniques only: layer-path merges change it on purpose)
    "num_hidden_layers", "n_layer", "n_layers", "layer_types",
)
DEPTH_FIELDS = ("num_hidden_layers", "n_layer", "n_layers", "layer_types")
# Cognate's test-time memory settings (memory_chunk, memory_hidden, ...) shape its forward pass.
_PREFIXES = ("memory_",)

_MISSING = "<unset>"
# Fields whose absence says nothing (a model built in memory has no ``architectures``; older
# configs leave ``head_dim`` to be derived): compared only between inputs that set them.
_OPTIONAL_FIELDS = ("architectures", "head_dim")


def config_differences(configs: Sequence[Mapping[str, Any]],
                       same_depth: bool = True) -> dict[str, list[Any]]:
    """Function-changing fields whose values differ between ``configs``.

    Args:
        configs: Each input's config as a dict (``config.json`` or ``config.to_dict()``).
        same_depth: Compare depth fields too (False for layer-path merges).

    Returns:
        ``{field: [value per input]}`` for each differing field ("<unset>" where absent or
        None; absent and None count as equal).
    """
    fields = [f for f in _fields(configs) if same_depth or f not in DEPTH_FIELDS]
    out = {}
    for name in fields:
        values = [_MISSING if c.get(name) is None else c[name] for c in configs]
        compared = [v for v in values if v != _MISSING] if name in _OPTIONAL_FIELDS else values
        if any(v != compared[0] for v in compared[1:]):
            out[name] = values
    return out


def _fields(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The listed fields plus prefixed ones present in any config."""
    extra = sorted({k for c in configs for k in c
                    if k.startswith(_PREFIXES) and k not in FUNCTION_FIELDS})
    return [*FUNCTION_FIELDS, *extra]


def check_compatible_configs(configs: Sequence[Mapping[str, Any]], allow_mismatch: bool,
                             same_depth: bool = True) -> None:
    """ValueError naming every differing field, unless ``allow_mismatch``.

    Args:
        configs: Each input's config as a dict.
        allow_mismatch: The request's ``allow_config_mismatch``: merge anyway (the output
            takes the first input's config).
        same_depth: As :func:`config_differences`.
    """
    if allow_mismatch or len(configs) < 2:
        return
    diffs = config_differences(configs, same_depth)
    if not diffs:
        return
    shown = "; ".join(f"{name}: " + ", ".join(f"model {i} = {_short(v)}"
                                                for i, v in enumerate(values))
                      for name, values in diffs.items())
    raise ValueError(f"the inputs' configs differ in fields that change what the model "
                     f"computes ({shown}); merging them would give a model that matches neither "
                     "config. If this is intended, set allow_config_mismatch=True "
                     "(recipe: merge { allow_config_mismatch = true }); the output then "
                     "takes model 0's config")


def _short(value: Any) -> str:
    """A value for the message, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
