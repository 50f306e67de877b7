"""Teacher-forced answer likelihood with thoughts, or a control in their place.

Accuracy moves in whole examples, so at tiny sizes it hides small effects. This measures
the mean negative log-likelihood (nats) of every answer token of held-out examples (the
tokens the training labels supervise: the answer and ``<|eos|>``), with one thought
before each answer token (``n_true = 1``), in the modes of :mod:`runtime.thoughts.decode`:

- ``thoughts``: a thought sampled from the model, the mixed prediction scores;
- ``none``: the model's own prediction, no thought (the mixing head is not used);
- ``random``: uniformly random non-special tokens in the thought's place;
- ``shuffled``: a thought sampled for another example of the batch, at the same answer
  token where that example has one (else at its last).

The shuffled control does not roll the rows by one as decoding does: an example's rows
are adjacent here, so a roll would hand a row the thought sampled after the *next*
answer token of the same example, which has seen the very token the row predicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from runtime.data.encoding import IGNORE_INDEX, encode_example
from runtime.data.example import Example
from runtime.thoughts.decode import MODES, fill_thoughts, padded
from runtime.thoughts.head import MixingHead
from runtime.thoughts.rows import ThoughtRows, thought_rows
from runtime.thoughts.score import score_thoughts
from runtime.thoughts.tokens import ThoughtTokens


@dataclass(frozen=True)
class AnswerScores:
    """Totals over the answer tokens of some examples.

    Attributes:
        nll: summed negative log-likelihood (nats) of the answer tokens.
        weight: summed mixing weight at those tokens (0 for ``none``).
        count: answer tokens scored.
    """

    nll: float
    weight: float
    count: int

    def __add__(self, other: AnswerScores) -> AnswerScores:
        return AnswerScores(self.nll + other.nll, self.weight + other.weight,
                            self.count + other.count)

    @property
    def mean_nll(self) -> float:
        """Nats per answer token."""
        return self.nll / max(1, self.count)

    @property
    def mean_weight(self) -> float:
        """Mean mixing weight per answer token."""
        return self.weight / max(1, self.count)


def answer_places(labels: Sequence[Sequence[int]]) -> list[tuple[int, int, int]]:
    """``(example, t, 1)`` for every position ``t`` whose next token is an answer token,
    ordered by example, then position."""
    return [(b, t, 1) for b, row in enumerate(labels) for t in range(len(row) - 1)
            if row[t + 1] != IGNORE_INDEX]


def donor_rows(places: Sequence[tuple[int, int, int]], n_examples: int) -> torch.Tensor:
    """``(R,)`` for each row, the row whose thought the shuffled control gives it: example
    ``b + 1`` (cyclically) at the same answer index ``j``, or at its last when it has fewer."""
    rows_of: list[list[int]] = [[] for _ in range(n_examples)]
    for r, (b, _, _) in enumerate(places):
        rows_of[b].append(r)
    donor = []
    for b in range(n_examples):
        other = rows_of[(b + 1) % n_examples]
        donor += [other[min(j, len(other) - 1)] for j in range(len(rows_of[b]))]
    return torch.tensor(donor, dtype=torch.long)


def control_rows(model, rows: ThoughtRows, tokens: ThoughtTokens, mode: str, temperature: float,
                 generator: torch.Generator, donor: torch.Tensor) -> ThoughtRows:
    """The rows with the mode's thought (``none`` leaves the padding: its score ignores it)."""
    if mode == "none":
        return rows
    if mode == "shuffled":
        sampled = fill_thoughts(model, rows, tokens, "thoughts", temperature, generator)
        return rows.with_thoughts(sampled.thoughts()[donor])
    return fill_thoughts(model, rows, tokens, mode, temperature, generator)


@torch.no_grad()
def batch_scores(model, head: MixingHead, tokens: ThoughtTokens, tokenizer,
                 examples: Sequence[Example], mode: str, temperature: float,
                 generator: torch.Generator, pad_id: int) -> AnswerScores:
    """:class:`AnswerScores` of one batch of examples (at least two for ``shuffled``)."""
    encoded = [encode_example(ex, tokenizer) for ex in examples]
    sequences = [ids for ids, _ in encoded]
    places = answer_places([labels for _, labels in encoded])
    rows = thought_rows(sequences, places, tokens, 1, pad_id)
    rows = control_rows(model, rows, tokens, mode, temperature, generator,
                        donor_rows(places, len(examples)))
    scores = score_thoughts(model, head, rows, padded(sequences, pad_id), tokens, temperature, 1)
    logp = scores.base if mode == "none" else scores.mixed  # (R, 1), 0 where masked
    weight = 0.0 if mode == "none" else float(scores.weight[scores.mask].sum())
    return AnswerScores(-float(logp.sum()), weight, int(scores.mask.sum()))


def batches(examples: Sequence[Example], batch_size: int) -> list[Sequence[Example]]:
    """Consecutive batches of at most ``max(2, batch_size)`` examples, none of one example
    (a single leftover joins the batch before it) unless there is only one in all."""
    size = max(2, batch_size)
    chunks = [examples[i: i + size] for i in range(0, len(examples), size)]
    if len(chunks) > 1 and len(chunks[-1]) == 1:
        chunks[-2:] = [list(chunks[-2]) + list(chunks[-1])]
    return chunks


def answer_scores(model, head: MixingHead, tokens: ThoughtTokens, tokenizer,
                  examples: Sequence[Example], mode: str, *, temperature: float = 1.0,
                  seed: int = 0, batch_size: int = 16, pad_id: int = 0) -> AnswerScores:
    """Summed answer-token NLL and mixing weight of ``examples`` under ``mode``.

    Raises:
        ValueError: an unknown mode, no examples, or ``shuffled`` with one example.
    """
    if mode not in MODES:
        raise ValueError(f"unknown thought mode {mode!r}; expected one of {MODES}")
    if not examples or (mode == "shuffled" and len(examples) < 2):
        raise ValueError(f"answer scores in mode {mode!r} need "
                         f"{'two examples' if mode == 'shuffled' else 'an example'}")
    generator = torch.Generator().manual_seed(seed)
    total = AnswerScores(0.0, 0.0, 0)
    for chunk in batches(examples, batch_size):
        total += batch_scores(model, head, tokens, tokenizer, chunk, mode, temperature,
                              generator, pad_id)
    return total


def answer_nll(model, head: MixingHead, tokens: ThoughtTokens, tokenizer,
               examples: Sequence[Example], mode: str, *, temperature: float = 1.0,
               seed: int = 0, batch_size: int = 16, pad_id: int = 0) -> float:
    """Mean NLL (nats) per answer token of ``examples``, a thought (or ``mode``'s control)
    before every answer token; deterministic given ``seed``. See the module docstring."""
    return answer_scores(model, head, tokens, tokenizer, examples, mode, temperature=temperature,
                         seed=seed, batch_size=batch_size, pad_id=pad_id).mean_nll
