"""What the quietstar phase reads: thought-training text and the baking queries.

Training text (``data = suite``) mixes the reasoning families (arithmetic and word
problems, 70%) with the other families (30%, so the LM loss keeps them), at the phase's
``levels``; ``data = "file.jsonl"`` uses the file's training lines instead. Baking
queries are training prompts; its held-out queries are prompts of the held-out set.
"""

from __future__ import annotations

from collections.abc import Sequence

from forgelang.kinds.common import SUITE
from forgelang.kinds.quietstar_cost import HELDOUT_QUERIES, training_weights
from runtime.data import TASKS, TaskMix
from runtime.data.encoding import encode_example
from runtime.data.example import Example
from runtime.data.formatting import format_example
from runtime.data.jsonl import load_jsonl
from runtime.data.splits import derive_seed
from runtime.phases.toolkit.batches import BatchStream, encode_pool, training_stream
from runtime.phases.toolkit.draws import fitting_examples


def training_mix() -> TaskMix:
    """Reasoning families at 70%, every other family sharing the rest (the estimate
    counts the same mix)."""
    return TaskMix(training_weights(TASKS.names()))


def jsonl_training(path: str, tokenizer, seq_len: int) -> list[Example]:
    """The training lines of the user's file that fit ``seq_len`` tokens."""
    fits = [ex for ex in load_jsonl(path) if ex.split == "train"
            and len(encode_example(ex, tokenizer)[0]) <= seq_len]
    if not fits:
        raise ValueError(f"{path}: no training line fits seq_len={seq_len} tokens")
    return fits


def thought_batches(params, tokenizer, seed: int) -> BatchStream:
    """The seeded batches of thought training."""
    if params.data == SUITE:
        return training_stream(training_mix(), params.steps, params.batch_size, params.seq_len,
                               tokenizer, seed, params.levels)
    examples = jsonl_training(params.data, tokenizer, params.seq_len)
    input_ids, labels = encode_pool(examples, tokenizer, params.seq_len)
    return BatchStream(input_ids, labels, params.batch_size, seed)


def bake_queries(params, tokenizer, seed: int, heldout: Sequence[Example]) -> tuple[list[str], list[str]]:
    """``(training queries, held-out queries)`` for baking the reasoning prompt."""
    examples = fitting_examples(training_mix(), params.bake.trajectories,
                                derive_seed(seed, "quietstar-bake") % 2**63, "train", tokenizer,
                                params.seq_len, params.levels)
    train = [format_example(ex)[0] for ex in examples]
    held = [q for q in dict.fromkeys(format_example(ex)[0] for ex in heldout) if q not in train]
    return train, held[:HELDOUT_QUERIES]
