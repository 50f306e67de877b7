"""Plain float weights from a stored form a plain transformers install cannot load.

A phase may store a model in a form of its own (``runtime.formats``: ``forge_ternary``'s
packed codes, phase 8's compressed forms), named by ``quantization_config.quant_method``.
Those load only where this package registers the form. For everyone else the export holds
the same architecture with every stored layer turned back into its float weight (what the
layer computes with: ``gamma * codes`` for a ternary layer), and no
``quantization_config``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

OWN_FORM_PREFIX = "forge_"  # every form of this package's registers under this prefix


def stored_form(model_dir: Path) -> dict | None:
    """The ``quantization_config`` of a form of this package's, or None (plain weights)."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    form = config.get("quantization_config")
    if isinstance(form, dict) and str(form.get("quant_method", "")).startswith(OWN_FORM_PREFIX):
        return form
    return None


def float_state_dict(stored: torch.nn.Module, names: list[str]) -> dict[str, torch.Tensor]:
    """The tensors ``names`` (a float model's state-dict keys) from the stored model:
    taken as they are, or, for a stored layer's ``weight``, the float weight it computes
    with (the layer's ``weight`` attribute).

    Raises:
        ValueError: a key the stored model has no tensor for.
    """
    have = stored.state_dict()
    out = {}
    for key in names:
        if key in have:
            out[key] = have[key].detach().clone()
            continue
        owner, _, leaf = key.rpartition(".")
        value = getattr(stored.get_submodule(owner), leaf, None) if owner else None
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"the stored model has no tensor for {key}")
        out[key] = value.detach().float().clone()
    return out


def float_model(stored: torch.nn.Module):
    """A model of ``stored``'s architecture holding its float weights (no stored form)."""
    from transformers import AutoModelForCausalLM

    config = stored.config.__class__.from_dict(
        {k: v for k, v in stored.config.to_dict().items() if k != "quantization_config"})
    plain = AutoModelForCausalLM.from_config(config)
    names = list(plain.state_dict())
    plain.load_state_dict(float_state_dict(stored, names), strict=True)
    return plain.eval()
