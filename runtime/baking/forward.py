"""Left-padded batches and one forward that works for the Cognate model and any HF causal LM."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def encode(tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text, with the tokenizer's own special tokens (e.g. ``<|bos|>``)."""
    return [list(tokenizer(text).input_ids) for text in texts]


def pad_id(tokenizer) -> int:
    """The tokenizer's pad id, else its eos id, else 0 (padding is masked out anyway)."""
    for token_id in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    return 0


def left_pad(rows: Sequence[Sequence[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids (N, T), mask (N, T))``: rows right-aligned, so every row's continuation starts
    at the same column; mask is 1 on real tokens."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)  # (N, T)
    mask = torch.zeros(len(rows), width, dtype=torch.long)  # (N, T)
    for i, row in enumerate(rows):
        if row:
            ids[i, width - len(row):] = torch.tensor(row, dtype=torch.long)
            mask[i, width - len(row):] = 1
    return ids, mask


def causal_logits(model, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Logits (B, T, V) of a left-padded batch; zeros at the padding.

    Rows are run in groups of equal length, each without its padding, so a row gives
    exactly the logits it would give alone. Masking the padding is not enough for every
    model: the Cognate model's memory chunks are counted from the first column, so left
    padding moves their boundaries (up to 1.26 apart in logits, measured); the evaluation
    harness batches equal lengths for the same reason.
    """
    lengths = mask.sum(dim=1)  # (B,) real tokens of each row, right-aligned
    width = ids.shape[1]
    out = None
    for n in lengths.unique().tolist():
        rows = (lengths == n).nonzero().flatten()  # (G,)
        if n == 0:
            continue
        group = model(input_ids=ids[rows, width - n:]).logits  # (G, n, V)
        if out is None:
            out = group.new_zeros(ids.shape[0], width, group.shape[-1])  # (B, T, V)
        out[rows, width - n:] = group
    if out is None:
        raise ValueError("every row of the batch is empty")
    return out


def continuation_logits(model, ids: torch.Tensor, mask: torch.Tensor,
                        continuation: torch.Tensor) -> torch.Tensor:
    """Logits (B, L, V) predicting each token of ``continuation`` (B, L) after the
    left-padded contexts ``ids``/``mask`` (B, T): position ``t`` sees ``y_<t``."""
    length = continuation.shape[1]
    full = torch.cat([ids, continuation], dim=1)  # (B, T + L)
    full_mask = torch.cat([mask, torch.ones_like(continuation)], dim=1)  # (B, T + L)
    logits = causal_logits(model, full, full_mask)  # (B, T + L, V)
    return logits[:, -length - 1:-1]  # (B, L, V)
