"""Data of the cognate phase: the tokenizer, training pools and the held-out set.

Everything is a function of the step's seed, so a resumed or repeated run trains on the
same batches. Examples that do not fit ``seq_len`` are skipped (truncating would cut the
answer the model is meant to learn) and replaced by further seeded draws.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from forgelang.kinds.suite_roles import stage_weights
from runtime.data import TASKS, TaskMix, make_split
from runtime.data.encoding import IGNORE_INDEX, encode_example
from runtime.data.example import Example
from runtime.data.registry import LEVELS
from runtime.data.splits import derive_seed

MAX_POOL = 20_000  # distinct training examples per stage; beyond that, batches repeat
MAX_ROUNDS = 16  # seeded re-draws when too many examples are longer than seq_len


def general_mix() -> TaskMix:
    """All task families, equally weighted: the shared pre-training mix (``stage_weights``
    with no role, as the planner prices it)."""
    return TaskMix(stage_weights(None, 0.0, TASKS.names()))


def role_mix(role: str, replay: float = 0.0) -> TaskMix:
    """The specialist mix of ``role`` (``SPECIALIST_MIXES``) with ``replay`` of the general mix
    (``forgelang.kinds.suite_roles.stage_weights``, which the planner prices too)."""
    return TaskMix(stage_weights(role, replay, TASKS.names()))


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


def encode_pool(examples: Sequence[Example], tokenizer, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``(input_ids, labels)``, each ``(N, seq_len)``; prompt masked in labels."""
    input_ids = torch.full((len(examples), seq_len), tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((len(examples), seq_len), IGNORE_INDEX, dtype=torch.long)  # (N, T)
    for i, example in enumerate(examples):
        ids, row_labels = encode_example(example, tokenizer)
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, : len(ids)] = torch.tensor(row_labels)
    return input_ids, labels


def trim_padding(input_ids: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut the columns after the batch's last supervised token; both (B, T) -> (B, T').

    Exact for a causal model: right padding is never seen by earlier positions and carries
    no labels, so the loss and its gradients are unchanged, while short tasks train faster.
    """
    supervised = (labels != IGNORE_INDEX).any(dim=0).nonzero()  # (K, 1) column indices
    used = int(supervised[-1]) + 1 if len(supervised) else labels.shape[1]
    return input_ids[:, :used], labels[:, :used]


class BatchStream:
    """Batch ``s`` of a seeded pool, the same on every call: epochs are seeded permutations."""

    def __init__(self, input_ids: torch.Tensor, labels: torch.Tensor, batch_size: int, seed: int):
        self.input_ids, self.labels = input_ids, labels  # (N, T) each
        self.batch_size, self.seed = batch_size, seed
        self._orders: dict[int, torch.Tensor] = {}

    def _order(self, epoch: int) -> torch.Tensor:
        if epoch not in self._orders:
            gen = torch.Generator().manual_seed(derive_seed(self.seed, "epoch", epoch) % 2**63)
            self._orders = {epoch: torch.randperm(len(self.input_ids), generator=gen)}
        return self._orders[epoch]

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.input_ids)
        start = step * self.batch_size
        rows = [self._order((start + k) // n)[(start + k) % n] for k in range(self.batch_size)]
        index = torch.stack(rows)  # (B,)
        return trim_padding(self.input_ids[index], self.labels[index])


def training_stream(mix: TaskMix, steps: int, batch_size: int, seq_len: int, tokenizer,
                    seed: int, levels: Sequence[int] = LEVELS) -> BatchStream:
    """A deterministic batch stream of ``steps * batch_size`` examples (capped at MAX_POOL)."""
    n = max(batch_size, min(steps * batch_size, MAX_POOL))
    examples = fitting_examples(mix, n, seed, "train", tokenizer, seq_len, levels)
    input_ids, labels = encode_pool(examples, tokenizer, seq_len)
    return BatchStream(input_ids, labels, batch_size, seed)
