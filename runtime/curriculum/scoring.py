"""The model's own answers, scored without decoding: exact teacher-forced argmax.

A question counts as answered exactly when, fed its gold target, the model's argmax at
every supervised position (the answer, the tool call, ``<|eos|>``; inserted tool results
are masked) is the gold token. Then greedy decoding writes exactly that target, token for
token, and stops at its ``<|eos|>`` (the calculator returns the gold result to the gold
call), so this equals greedy decoding's exact match, except that (a) a greedy answer
tokenised differently but reading the same counts here as wrong, and (b) decoding's
``max_new_tokens`` budget does not apply. It costs one forward of the batch, and during
training none at all: the training step's own logits are scored (``correct_rows``).

The kernel toolkit (``runtime.phases.toolkit``) is imported inside functions:
importing ``runtime.phases`` registers every kernel, this phase's too, which imports
this module, so a top-level import would be circular.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from runtime.data.encoding import IGNORE_INDEX
from runtime.data.example import Example


def correct_rows(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B,) bool: every supervised label of the row is the argmax before it.

    Args:
        logits: (B, T, V) of a causal LM (position t predicts token t + 1).
        labels: (B, T) aligned with the inputs, ``IGNORE_INDEX`` where not supervised.
    """
    predicted = logits[:, :-1].argmax(dim=-1)  # (B, T-1)
    target = labels[:, 1:]  # (B, T-1)
    supervised = target != IGNORE_INDEX  # (B, T-1)
    hits = (predicted == target) | ~supervised  # (B, T-1)
    return hits.all(dim=1) & supervised.any(dim=1)  # (B,)


@torch.no_grad()
def exact_answers(model, tokenizer, examples: Sequence[Example], seq_len: int,
                  batch_size: int, device) -> list[bool]:
    """Whether ``model`` answers each example exactly (teacher-forced argmax), in
    right-padded batches trimmed after their last answer token."""
    from runtime.phases.toolkit.batches import encode_pool, trim_padding

    if not examples:
        return []
    was_training = model.training
    model.eval()
    input_ids, labels = encode_pool(examples, tokenizer, seq_len)  # (N, T) each
    out: list[bool] = []
    try:
        for start in range(0, len(examples), batch_size):
            ids, lab = trim_padding(input_ids[start:start + batch_size],
                                    labels[start:start + batch_size])
            logits = model(input_ids=ids.to(device)).logits  # (B, T', V)
            out += correct_rows(logits, lab.to(device)).tolist()
    finally:
        model.train(was_training)
    return out


def accuracy(outcomes: Sequence[bool]) -> float:
    """Share of ``True`` (0 for no outcomes is refused: nothing was measured)."""
    if not outcomes:
        raise ValueError("accuracy of no outcomes")
    return sum(outcomes) / len(outcomes)
