"""The thought tokens: ``<|startofthought|>`` / ``<|endofthought|>`` and what a thought may hold."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.data.tokens import THOUGHT_END, THOUGHT_START


@dataclass(frozen=True)
class ThoughtTokens:
    """Ids of the thought markers and of the tokens never sampled inside a thought.

    Attributes:
        start, end: ids of ``<|startofthought|>`` and ``<|endofthought|>``.
        length: thought tokens between the markers (``thought_tokens``).
        banned: every special token (padding, end of text, the markers, tool markup):
            a thought is text, so these get probability 0 when thoughts are sampled.
        vocab: the tokenizer's size; logits beyond it (a model's padded vocabulary) are
            never sampled either.
    """

    start: int
    end: int
    length: int
    banned: tuple[int, ...]
    vocab: int


def _token_id(tokenizer, token: str) -> int | None:
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or (token_id == tokenizer.unk_token_id and token != tokenizer.unk_token):
        return None
    return int(token_id)


def add_thought_tokens(model, tokenizer) -> bool:
    """Give ``tokenizer`` (and ``model``'s embeddings) the thought markers when it lacks them.

    New rows start at the embedding of a dash-like token, as in the paper (the mean
    embedding when the vocabulary has none). Returns whether tokens were added.
    """
    if _token_id(tokenizer, THOUGHT_START) is not None and _token_id(tokenizer, THOUGHT_END) is not None:
        return False
    import torch

    tokenizer.add_special_tokens({"additional_special_tokens": [THOUGHT_START, THOUGHT_END]})
    model.resize_token_embeddings(len(tokenizer))
    weight = model.get_input_embeddings().weight  # (V', d)
    dash = _token_id(tokenizer, "-")
    with torch.no_grad():
        init = weight[dash] if dash is not None else weight[:-2].mean(dim=0)
        for token in (THOUGHT_START, THOUGHT_END):
            weight[_token_id(tokenizer, token)] = init
    return True


def thought_tokens(tokenizer, length: int) -> ThoughtTokens:
    """The thought markers of ``tokenizer`` (see :func:`add_thought_tokens`).

    Raises:
        ValueError: the tokenizer has no thought markers.
    """
    start, end = _token_id(tokenizer, THOUGHT_START), _token_id(tokenizer, THOUGHT_END)
    if start is None or end is None:
        raise ValueError(f"the tokenizer has no {THOUGHT_START} / {THOUGHT_END} tokens; "
                         "add them with runtime.thoughts.tokens.add_thought_tokens")
    special = {int(i) for i in tokenizer.all_special_ids}
    special |= {i for i in (tokenizer.pad_token_id, tokenizer.eos_token_id, start, end)
                if i is not None}
    return ThoughtTokens(start, end, length, tuple(sorted(special)), len(tokenizer))
