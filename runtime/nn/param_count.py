"""The parameter-count contract of the Cognate model, in closed form.

forgelang's planner computes the same number without torch (``forgelang/kinds/cognate_arch.py``);
a test checks this formula against ``sum(p.numel() for p in model.parameters())``.
"""

from __future__ import annotations

from typing import Any


def _field(config: Any, name: str) -> Any:
    return config[name] if isinstance(config, dict) else getattr(config, name)


def parameters_per_layer(d: int, d_ff: int, memory_hidden: int) -> int:
    """Parameters of one MAG block of width ``d``."""
    norms = 4 * d  # attn, mlp, mag-attn, mag-memory RMSNorm gains
    attention = 4 * d * d  # q, k, v, o
    memory_projections = 3 * d * d  # k, v, q
    memory_mlp = 2 * d * memory_hidden  # initial W1, W2 of M_0
    memory_gates = 3 * d + 3  # Linear(d, 3) with bias: eta, theta, alpha
    mag_gate = d * d
    swiglu = 3 * d * d_ff
    return norms + attention + memory_projections + memory_mlp + memory_gates + mag_gate + swiglu


def expected_parameters(config: Any) -> int:
    """Total parameter count of ``TrmTitansMagForCausalLM(config)``.

    Args:
        config: A ``TrmTitansMagConfig`` or a dict with its field names.

    Returns:
        Number of distinct parameters (a tied LM head counts once).
    """
    v, d = _field(config, "vocab_size"), _field(config, "d_model")
    top = (
        v * d  # token embedding
        + _field(config, "n_persistent") * d  # persistent memory tokens
        + 2 * d  # y_init, z_init
        + d  # final norm
        + d + 1  # halting head Linear(d, 1) with bias
    )
    if not _field(config, "tie_embeddings"):
        top += v * d  # separate LM head
    layer = parameters_per_layer(d, _field(config, "d_ff"), _field(config, "memory_hidden"))
    return top + _field(config, "n_layers") * layer
