"""One forward pass of a causal LM giving its logits and its final hidden state.

The hidden state is the LM head's input, captured with a forward pre-hook, so the same
code serves the Cognate model and any transformers causal LM (whose ``output_hidden_states``
conventions differ: some return the state before the final norm).
"""

from __future__ import annotations

import torch


def run_lm(model, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits (B, T, V), hidden (B, T, d))`` of ``input_ids (B, T)`` (no attention mask:
    rows are right-padded, which a causal model never sees from earlier positions)."""
    captured: list[torch.Tensor] = []
    head = model.get_output_embeddings()
    handle = head.register_forward_pre_hook(lambda _module, args: captured.append(args[0]))
    try:
        logits = model(input_ids=input_ids).logits
    finally:
        handle.remove()
    if not captured:
        raise ValueError(f"{type(model).__name__} did not call its output embeddings")
    return logits, captured[-1]  # the last call is the one that produced the logits
