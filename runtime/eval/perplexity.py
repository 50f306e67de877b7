"""Perplexity of a causal LM on texts: exp(mean next-token negative log-likelihood)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from runtime.data.encoding import IGNORE_INDEX, encode_example
from runtime.eval.generation import model_device


@contextmanager
def _evaluating(model) -> Iterator[None]:
    """The model in eval mode (dropout off) for the block, then back to how it was."""
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        yield
    finally:
        if was_training:
            model.train()


def _right_padded(rows: Sequence[Sequence[int]], pad_id: int,
                  row_labels: Sequence[Sequence[int]] | None = None,
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask, labels)``, each (B, T): rows right-padded to the longest.

    ``labels`` are ``row_labels`` (or the ids themselves) with padding set to IGNORE_INDEX.
    """
    width = max(len(ids) for ids in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    for i, ids in enumerate(rows):
        input_ids[i, : len(ids)], mask[i, : len(ids)] = torch.tensor(ids, dtype=torch.long), 1
        labels[i, : len(ids)] = torch.tensor(ids if row_labels is None else row_labels[i],
                                             dtype=torch.long)
    return input_ids, mask, labels


def _batch_nll(model, rows, row_labels, pad_id: int, device) -> tuple[float, int]:
    """Summed NLL of the labelled next tokens of one right-padded batch, and their count."""
    input_ids, mask, labels = (t.to(device) for t in _right_padded(rows, pad_id, row_labels))
    logits = model(input_ids=input_ids, attention_mask=mask).logits.float()  # (B, T, V)
    target = labels[:, 1:]  # (B, T-1): token t+1 is predicted at t
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), target, ignore_index=IGNORE_INDEX,
                          reduction="none")  # (B, T-1), 0 where ignored
    return nll.double().sum().item(), int((target != IGNORE_INDEX).sum())


def _summed_nll(model, rows, row_labels, pad_id: int, batch_size: int,
                device) -> tuple[float, int]:
    """``_batch_nll`` over ``rows`` in batches of ``batch_size``, summed."""
    device = model_device(model) if device is None else torch.device(device)
    total, count = 0.0, 0
    for start in range(0, len(rows), batch_size):
        end = start + batch_size
        nll, n = _batch_nll(model, rows[start:end],
                            None if row_labels is None else row_labels[start:end], pad_id, device)
        total, count = total + nll, count + n
    return total, count


@torch.no_grad()
def token_nll(model, tokenizer, texts: Sequence[str], batch_size: int = 16, device=None,
              max_length: int | None = None) -> tuple[float, int]:
    """Summed next-token NLL (nats) and the number of predicted tokens.

    Each text is encoded with ``<|bos|>`` in front; every token after the first is
    predicted from the ones before it. Rows are right-padded, which a causal model
    cannot see from earlier positions, and padding is left out of the sum.
    """
    rows = [tokenizer(text)["input_ids"][:max_length] for text in texts]
    return _summed_nll(model, rows, None, tokenizer.pad_token_id, batch_size, device)


@torch.no_grad()
def answer_nll(model, tokenizer, examples, batch_size: int = 16, device=None) -> tuple[float, int]:
    """Summed NLL (nats) of the answer tokens given the prompts, and how many there are.

    Examples are encoded as training encodes them (``encode_example``: the prompt masked
    out of the labels) and scored in right-padded batches.
    """
    encoded = [encode_example(example, tokenizer) for example in examples]
    return _summed_nll(model, [ids for ids, _ in encoded], [labels for _, labels in encoded],
                       tokenizer.pad_token_id, batch_size, device)


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
    with _evaluating(model):
        total, count = token_nll(model, tokenizer, texts, batch_size, device, max_length)
    if count == 0:
        raise ValueError("perplexity needs texts of at least two tokens (with <|bos|>)")
    return math.exp(total / count)


def answer_perplexity(model, tokenizer, examples, batch_size: int = 16, device=None) -> float:
    """exp(mean NLL of the answer tokens given the prompt): what training optimises.

    ``perplexity`` scores whole texts, prompts included, which training never learns
    (prompts are masked out of the labels), so this one tracks learning more directly.
    """
    with _evaluating(model):
        total, count = answer_nll(model, tokenizer, examples, batch_size, device)
    return math.exp(total / max(1, count))
