"""The held-out lines of a user's JSONL file: what a phase measures on when its ``data``
(its own, or the recipe's) is a file.

A JSONL file is split like the task suite, by a hash of each prompt (about 10% held
out, ``runtime.data.example.split_of``), so no phase measures on a line that a phase
trained on. Every phase draws the same way, seeded by its step's seed (the draw the
cognate phase makes, ``runtime.phases.cognate.sources.JsonlSource.heldout``), so phases
that share a seed, a file and a context length measure on the same lines.
"""

from __future__ import annotations

import random
from pathlib import Path

from runtime.data.encoding import encode_example
from runtime.data.example import Example
from runtime.data.jsonl import load_jsonl
from runtime.data.splits import derive_seed

HELDOUT_NAMESPACE = "cognate-jsonl-heldout"  # cognate's name for this draw, kept for it


def jsonl_heldout(path: str | Path, tokenizer, n: int, seed: int, seq_len: int) -> list[Example]:
    """Up to ``n`` held-out lines of the file whose encoding fits ``seq_len`` tokens, a
    seeded sample when there are more (a file's lines carry their own levels).

    Raises:
        OSError, JsonlError: the file may not be read (``runtime.data.jsonl.load_jsonl``).
        ValueError: no held-out line fits ``seq_len``.
    """
    lines = [ex for ex in load_jsonl(path) if ex.split == "heldout"]
    fits = [ex for ex in lines if len(encode_example(ex, tokenizer)[0]) <= seq_len]
    if not fits:
        raise ValueError(f"{path}: {len(lines)} lines are held out (about 10% of prompts, by "
                         f"hash) and none fits {seq_len} tokens, so nothing can be measured "
                         "on this file: add examples (short ones)")
    if len(fits) <= n:
        return fits
    return random.Random(derive_seed(HELDOUT_NAMESPACE, seed)).sample(fits, n)
