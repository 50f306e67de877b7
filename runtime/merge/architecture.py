"""Architecture adapters: where a model's layers live and which config key holds its depth.

Supported: the Cognate model (``stack.layers.N``, ``n_layers``), Llama-style models
(``model.layers.N``, ``num_hidden_layers``) and GPT-2-style models (``transformer.h.N``,
``n_layer``). Adapters work on state-dict key names and plain config dicts, so directory
merges never need to build a model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Architecture:
    """Key layout of one architecture family.

    Attributes:
        name: Family name, for messages.
        layer_prefix: State-dict prefix of layer N is ``f"{layer_prefix}{N}."``.
        depth_key: Config key holding the number of layers.
        residual_outputs: Per-layer tensor suffixes that scale a layer's residual-branch
            outputs linearly (output projections, or a gain right before the residual add);
            scaling them all by s turns ``x + f(x)`` into ``x + s * f(x)``.
        unscalable: Suffix fragments that make that scaling wrong (a norm after the
            projection would undo it), so DFS scales are refused for such models.
    """

    name: str
    layer_prefix: str
    depth_key: str
    residual_outputs: tuple[str, ...]
    unscalable: tuple[str, ...] = ()

    def split(self, key: str) -> tuple[int, str] | None:
        """``(layer index, suffix)`` of a layer tensor's key; None for non-layer keys."""
        match = re.match(re.escape(self.layer_prefix) + r"(\d+)\.(.+)$", key)
        return (int(match.group(1)), match.group(2)) if match else None

    def key(self, layer: int, suffix: str) -> str:
        """The state-dict key of ``suffix`` in layer ``layer``."""
        return f"{self.layer_prefix}{layer}.{suffix}"

    def scaled(self, suffix: str) -> bool:
        """Whether DFS scales this layer tensor (a residual-branch output)."""
        return suffix in self.residual_outputs


COGNATE = Architecture("cognate", "stack.layers.", "n_layers",
                       ("mag_attn_norm.weight", "mlp.down_proj.weight"))
LLAMA = Architecture("llama", "model.layers.", "num_hidden_layers",
                     ("self_attn.o_proj.weight", "self_attn.o_proj.bias",
                      "mlp.down_proj.weight", "mlp.down_proj.bias"),
                     unscalable=("post_feedforward_layernorm", "block_sparse_moe", "experts"))
GPT2 = Architecture("gpt2", "transformer.h.", "n_layer",
                    ("attn.c_proj.weight", "attn.c_proj.bias",
                     "mlp.c_proj.weight", "mlp.c_proj.bias"))
ARCHITECTURES = (COGNATE, LLAMA, GPT2)
# Config keys of the depth, in the order they are looked up.
DEPTH_KEYS = ("n_layers", "num_hidden_layers", "n_layer")


def architecture_of(keys: Iterable[str]) -> Architecture:
    """The architecture whose layer prefix the state-dict keys use; ValueError otherwise."""
    keys = list(keys)
    for arch in ARCHITECTURES:
        if any(arch.split(k) is not None for k in keys):
            return arch
    prefixes = ", ".join(a.layer_prefix + "N" for a in ARCHITECTURES)
    raise ValueError(f"unsupported architecture: no layer keys like {prefixes} "
                     f"(first keys: {', '.join(keys[:3])})")


def _config_dict(model_or_config: Any) -> Mapping[str, Any]:
    """A plain view of a model's config, a config object or a config.json dict."""
    config = getattr(model_or_config, "config", model_or_config)
    if isinstance(config, Mapping):
        return config
    return {k: getattr(config, k) for k in DEPTH_KEYS if hasattr(config, k)}


def layer_count(model_or_config: Any) -> int:
    """Depth of a supported architecture.

    Args:
        model_or_config: A model, its config, or a loaded ``config.json`` dict.

    Raises:
        ValueError: No known depth key (n_layers / num_hidden_layers / n_layer).
    """
    config = _config_dict(model_or_config)
    for key in DEPTH_KEYS:
        if isinstance(config.get(key), int):
            return int(config[key])
    raise ValueError(f"cannot find the model depth: none of {', '.join(DEPTH_KEYS)} in its config")


def check_depth(arch: Architecture, keys: Iterable[str], depth: int) -> None:
    """The layer keys must number exactly ``depth`` layers (config and weights agree)."""
    found = {split[0] for k in keys if (split := arch.split(k)) is not None}
    if found != set(range(depth)):
        raise ValueError(f"{arch.name} weights hold layers {sorted(found)} but the config "
                         f"says {depth} layers")
