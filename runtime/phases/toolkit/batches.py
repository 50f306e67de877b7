"""Training batches: seeded pools of examples, padded, trimmed and served by step.

A pool is drawn once (``runtime.phases.toolkit.draws``) and served as a ``BatchStream``:
batch ``s`` is the same on every call, so a resumed stage trains on the same batches.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from runtime.data import TaskMix
from runtime.data.encoding import IGNORE_INDEX, encode_example
from runtime.data.example import Example
from runtime.data.registry import LEVELS
from runtime.data.splits import derive_seed
from runtime.phases.toolkit.draws import fitting_examples

MAX_POOL = 20_000  # distinct training examples per stage; beyond that, batches repeat


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
