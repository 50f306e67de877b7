"""Teacher-forced greedy scoring: is the model's greedy answer exactly the reference?

One forward pass over a batch of (prompt + reference answer) rows tells, for every
question, whether greedy decoding would write the reference token for token: at each
model-written position of the answer (``<|eos|>`` included, inserted tool results
excluded) the arg-max must be the reference token. That is exact-match accuracy under
greedy decoding with the stricter tokenwise criterion (a scorer that accepts another
spelling of the answer can only score higher), at the cost of one forward instead of one
per decoded token. The searches (self-analysis, expert measurements, CEM, NSGA-II)
score with it; the phase's before/after ``accuracy`` uses real generation
(``runtime.phases.toolkit.measure``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from runtime.data.encoding import IGNORE_INDEX
from runtime.data.example import Example
from runtime.phases.toolkit.batches import encode_pool, trim_padding


def encode_questions(examples: Sequence[Example], tokenizer) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, labels)`` (N, T) of the examples, right-padded to the longest."""
    from runtime.data.encoding import encode_example

    longest = max(len(encode_example(ex, tokenizer)[0]) for ex in examples)
    return trim_padding(*encode_pool(examples, tokenizer, longest))


@torch.no_grad()
def greedy_matches(model, input_ids: torch.Tensor, labels: torch.Tensor,
                   batch_size: int) -> torch.Tensor:
    """(N,) bool: whether the greedy answer of each row equals its labelled answer."""
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(input_ids), batch_size):
        ids, lab = trim_padding(input_ids[start: start + batch_size],
                                labels[start: start + batch_size])
        logits = model(input_ids=ids.to(device)).logits  # (B, T, V)
        predicted = logits[:, :-1].argmax(-1).cpu()  # (B, T-1)
        target = lab[:, 1:]  # (B, T-1)
        out.append(((predicted == target) | (target == IGNORE_INDEX)).all(dim=1))
    return torch.cat(out)


def accuracy_by_skill(examples: Sequence[Example], correct: torch.Tensor) -> dict[str, float]:
    """Mean of ``correct`` per example family, in first-seen order."""
    totals: dict[str, list[int]] = {}
    for example, hit in zip(examples, correct.tolist(), strict=True):
        totals.setdefault(example.family, []).append(int(hit))
    return {family: sum(hits) / len(hits) for family, hits in totals.items()}
