"""Perplexity of a causal LM on texts: exp(mean next-token negative log-likelihood)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from runtime.eval.generation import model_device


@torch.no_grad()
def token_nll(model, tokenizer, texts: Sequence[str], batch_size: int = 16, device=None,
              max_length: int | None = None) -> tuple[float, int]:
    """Summed next-token NLL (nats) and the number of predicted tokens.

    Each text is encoded with ``<|bos|>`` in front; every token after the first is
    predicted from the ones before it. Rows are right-padded, which a causal model
    cannot see from earlier positions, and padding is left out of the sum.
    """
    device = model_device(model) if device is None else torch.device(device)
    encoded = [tokenizer(text)["input_ids"][:max_length] for text in texts]
    total, count = 0.0, 0
    for start in range(0, len(encoded), batch_size):
        batch = encoded[start: start + batch_size]
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)  # (B, T)
        for i, ids in enumerate(batch):
            input_ids[i, : len(ids)], mask[i, : len(ids)] = torch.tensor(ids), 1
        input_ids, mask = input_ids.to(device), mask.to(device)
        logits = model(input_ids=input_ids, attention_mask=mask).logits.float()  # (B, T, V)
        nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), input_ids[:, 1:],
                              reduction="none")  # (B, T-1)
        keep = mask[:, 1:].bool()
        total += nll[keep].double().sum().item()
        count += int(keep.sum().item())
    return total, count


def perplexity(model, tokenizer, texts: Sequence[str], batch_size: int = 16, device=None,
               max_length: int | None = None) -> float:
    """exp(total NLL / predicted tokens) over all ``texts``.

    Args:
        model: A causal LM returning ``.logits`` of shape (B, T, V).
        tokenizer: Its tokenizer (prepends ``<|bos|>``; needs a pad token).
        texts: Texts to score (e.g. ``training_text(ex)`` of held-out examples).
        batch_size: Texts per forward pass.
        device: Where inputs go; default: the model's device.
        max_length: Truncate each encoded text to this many tokens.

    Returns:
        The perplexity; a model with uniform logits over V tokens scores exactly V.
    """
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        total, count = token_nll(model, tokenizer, texts, batch_size, device, max_length)
    finally:
        if was_training:
            model.train()
    if count == 0:
        raise ValueError("perplexity needs texts of at least two tokens (with <|bos|>)")
    return math.exp(total / count)
