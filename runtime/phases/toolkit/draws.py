"""Seeded draws of task-suite examples: training pools and the held-out set.

Everything is a function of the step's seed, so a resumed or repeated run draws the same
examples, and two phases that draw held-out examples with the same seed, levels and
context measure on the same set (retention compares scores on one set). Examples that
do not fit the context are skipped (truncating would cut the answer) and replaced by
further seeded draws. The draws are namespaced ``"cognate"`` for history: the first
kernel defined them, and renaming the namespace would change every phase's data.
"""

from __future__ import annotations

from collections.abc import Sequence

from forgelang.data_files import SUITE
from runtime.data import TaskMix, make_split
from runtime.data.encoding import encode_example
from runtime.data.example import Example
from runtime.data.registry import LEVELS
from runtime.data.splits import derive_seed
from runtime.data.tokens import SPECIAL_TOKENS

MAX_ROUNDS = 16  # seeded re-draws when too many examples are longer than seq_len
MAX_EVAL_SEQ_LEN = 256  # held-out examples longer than this are redrawn (decoding cost ~ T^2)


def fitting_examples(mix: TaskMix | Sequence[str], n: int, seed: int, split: str,
                     tokenizer, seq_len: int, levels: Sequence[int] = LEVELS) -> list[Example]:
    """``n`` seeded examples of ``split`` (of ``levels``) whose encoding fits ``seq_len`` tokens.

    Raises:
        ValueError: when seeded re-draws cannot find ``n`` that fit (seq_len too short).
    """
    kept: list[Example] = []
    for round_ in range(MAX_ROUNDS):
        draw = make_split(mix, n, derive_seed("cognate", seed, split, round_), split, levels)
        kept += [ex for ex in draw if len(encode_example(ex, tokenizer)[0]) <= seq_len]
        if len(kept) >= n:
            return kept[:n]
    raise ValueError(f"only {len(kept)} of {n} {split} examples fit seq_len={seq_len} tokens "
                     f"after {MAX_ROUNDS} draws; raise seq_len")


def is_suite_tokenizer(tokenizer) -> bool:
    """Whether ``tokenizer`` was built here (it knows every special token of the task suite)."""
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    return all(token in vocab for token in SPECIAL_TOKENS)


def eval_seq_len(model) -> int:
    """The longest held-out example to use: the model's context, capped at MAX_EVAL_SEQ_LEN."""
    cfg = model.config
    for name in ("max_seq_len", "max_position_embeddings", "n_positions"):
        value = getattr(cfg, name, None)
        if isinstance(value, int) and value > 0:
            return min(value, MAX_EVAL_SEQ_LEN)
    return MAX_EVAL_SEQ_LEN


def heldout_examples(tokenizer, eval_cfg, seed: int, seq_len: int,
                     data: str = SUITE) -> list[Example]:
    """``eval_cfg.examples`` seeded held-out examples that fit ``seq_len`` tokens: the set a
    phase measures its input and output models on. Of every suite family (of
    ``eval_cfg.levels``), or, when the phase's ``data`` is a JSONL file, of that file's
    held-out lines (``runtime.data.jsonl_heldout``): a phase measures on its own data."""
    if data != SUITE:
        from runtime.data.jsonl_heldout import jsonl_heldout

        return jsonl_heldout(data, tokenizer, eval_cfg.examples, seed, seq_len)
    from runtime.data import TASKS

    return fitting_examples(TASKS.names(), eval_cfg.examples, seed, "heldout", tokenizer,
                            seq_len, eval_cfg.levels)
