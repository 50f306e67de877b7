"""Token tensors for training: the prompt is masked out of the labels."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from runtime.data.example import Example
from runtime.data.formatting import format_example
from runtime.data.tokens import RESULT_CLOSE, RESULT_OPEN

IGNORE_INDEX = -100  # the label value torch's cross_entropy and HF models skip


def _mask_tool_results(target_ids: list[int], labels: list[int], tokenizer) -> None:
    """Mask ``<|result|> ... <|/result|>``: the runtime inserts it, the model never writes it."""
    open_id = tokenizer.convert_tokens_to_ids(RESULT_OPEN)
    close_id = tokenizer.convert_tokens_to_ids(RESULT_CLOSE)
    inside = False
    for i, token in enumerate(target_ids):
        inside = inside or token == open_id
        if inside:
            labels[i] = IGNORE_INDEX
        if token == close_id:
            inside = False


def encode_example(example: Example, tokenizer) -> tuple[list[int], list[int]]:
    """Token ids and labels (prompt and inserted tool results masked) of one example."""
    prompt_text, target_text = format_example(example)
    prompt_ids = tokenizer(prompt_text)["input_ids"]  # with <|bos|>, as at evaluation
    target_ids = tokenizer(target_text, add_special_tokens=False)["input_ids"]
    target_labels = list(target_ids)
    _mask_tool_results(target_ids, target_labels, tokenizer)
    return prompt_ids + target_ids, [IGNORE_INDEX] * len(prompt_ids) + target_labels


def encode_for_training(examples: Sequence[Example], tokenizer,
                        seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad examples to ``seq_len`` and mask everything but the answer in the labels.

    Labels are aligned with ``input_ids`` (the model shifts them, as transformers'
    causal LMs do): ``-100`` on the prompt, on runtime-inserted tool results and on
    padding; the target tokens (answer and ``<|eos|>``) are learned.

    Args:
        examples: Examples to encode.
        tokenizer: A tokenizer from ``build_tokenizer`` (or any with the special tokens).
        seq_len: Length of every row.

    Returns:
        ``(input_ids, labels)``, both ``LongTensor`` of shape ``(N, seq_len)``.

    Raises:
        ValueError: When an example does not fit in ``seq_len`` (truncating would cut
            the answer the model is meant to learn).
    """
    if not examples:
        raise ValueError("encode_for_training needs at least one example")
    rows = [encode_example(example, tokenizer) for example in examples]
    longest = max(len(ids) for ids, _ in rows)
    if longest > seq_len:
        too_long = sum(len(ids) > seq_len for ids, _ in rows)
        raise ValueError(f"{too_long} of {len(rows)} examples are longer than seq_len="
                         f"{seq_len} tokens (longest {longest}); raise seq_len or use lower levels")
    pad = tokenizer.pad_token_id
    input_ids = torch.full((len(rows), seq_len), pad, dtype=torch.long)  # (N, T)
    labels = torch.full((len(rows), seq_len), IGNORE_INDEX, dtype=torch.long)  # (N, T)
    for i, (ids, row_labels) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, : len(ids)] = torch.tensor(row_labels)
    return input_ids, labels
