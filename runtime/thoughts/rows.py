"""Batched thoughts: one row per (position, thought), and sampling the thoughts.

Row for a thought after token ``t`` of sequence ``x``::

    x[0..t]  <|startofthought|>  h_1 .. h_k  <|endofthought|>  x[t+1 .. t+n]

right-padded to the longest row. In a causal model each row's positions see exactly what
the paper's diagonal attention mask lets them see (the text up to ``t`` and the thought's
own earlier tokens), so all positions and thoughts run as one batch of plain forward
passes. The true tokens ``x[t+1 .. t+n]`` are teacher-forced after the thought.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from runtime.thoughts.lm import run_lm
from runtime.thoughts.tokens import ThoughtTokens


@dataclass(frozen=True)
class ThoughtRows:
    """The rows of a batch of thoughts.

    Attributes:
        ids: ``(R, L)`` token ids, right-padded; the thought of row ``r`` is
            ``ids[r, position[r] + 2 : position[r] + 2 + length]``.
        source: ``(R,)`` the sequence each row comes from.
        position: ``(R,)`` the token ``t`` the thought follows.
        n_true: ``(R,)`` true tokens after the thought (0 when decoding).
        per_position: thoughts per position; rows ``g*m .. g*m+m-1`` share a position.
        length: tokens per thought ``k``.
    """

    ids: torch.Tensor
    source: torch.Tensor
    position: torch.Tensor
    n_true: torch.Tensor
    per_position: int
    length: int

    def thoughts(self) -> torch.Tensor:
        """``(R, k)`` the thought tokens."""
        index = self.position.unsqueeze(1) + 2 + torch.arange(self.length)  # (R, k)
        return self.ids.gather(1, index)

    def with_thoughts(self, thoughts: torch.Tensor) -> ThoughtRows:
        """The same rows with ``thoughts (R, k)`` written in."""
        ids = self.ids.clone()
        index = self.position.unsqueeze(1) + 2 + torch.arange(self.length)  # (R, k)
        ids.scatter_(1, index, thoughts)
        return ThoughtRows(ids, self.source, self.position, self.n_true, self.per_position,
                           self.length)


def every_position(lengths: Sequence[int], n_true: int) -> list[tuple[int, int, int]]:
    """``(sequence, t, true tokens)`` for every token followed by at least one true token."""
    return [(b, t, min(n_true, length - 1 - t)) for b, length in enumerate(lengths)
            for t in range(length - 1)]


def thought_rows(sequences: Sequence[Sequence[int]], places: Sequence[tuple[int, int, int]],
                 tokens: ThoughtTokens, per_position: int, pad_id: int) -> ThoughtRows:
    """Rows for thoughts at ``places`` (``(sequence, t, n_true)``), ``per_position`` each;
    the thought slots hold padding until :func:`sample_thoughts` fills them."""
    k = tokens.length
    rows = []
    for b, t, n in places:
        seq = list(sequences[b])
        row = seq[: t + 1] + [tokens.start] + [pad_id] * k + [tokens.end] + seq[t + 1: t + 1 + n]
        rows += [row] * per_position
    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for r, row in enumerate(rows):
        ids[r, : len(row)] = torch.tensor(row)

    def column(i: int) -> torch.Tensor:
        return torch.tensor([p[i] for p in places for _ in range(per_position)], dtype=torch.long)
    return ThoughtRows(ids, column(0), column(1), column(2), per_position, k)


def policy_logits(logits: torch.Tensor, tokens: ThoughtTokens, temperature: float) -> torch.Tensor:
    """The thought policy's logits ``(..., V)``: tempered, special tokens impossible."""
    policy = logits.float() / temperature
    policy[..., list(tokens.banned)] = float("-inf")
    policy[..., tokens.vocab:] = float("-inf")
    return policy


@torch.no_grad()
def sample_thoughts(model, rows: ThoughtRows, tokens: ThoughtTokens, temperature: float,
                    generator: torch.Generator | None = None, greedy: bool = False) -> ThoughtRows:
    """Fill every row's thought, token by token, all rows in one batch per token."""
    ids = rows.ids.clone().to(_device(model))
    r = torch.arange(len(ids), device=ids.device)
    position = rows.position.to(ids.device)
    for i in range(rows.length):
        at = position + 1 + i  # the last token written: the start marker, then the thought
        logits, _ = run_lm(model, ids[:, : int(at.max()) + 1])
        policy = policy_logits(logits[r, at], tokens, temperature)  # (R, V)
        if greedy:
            choice = policy.argmax(dim=-1)
        else:
            probs = torch.softmax(policy, dim=-1).cpu()
            choice = torch.multinomial(probs, 1, generator=generator).squeeze(1).to(ids.device)
        ids[r, at + 1] = choice
    return rows.with_thoughts(ids.cpu().gather(1, rows.position.unsqueeze(1) + 2
                                               + torch.arange(rows.length)))


def random_thoughts(rows: ThoughtRows, tokens: ThoughtTokens,
                    generator: torch.Generator | None = None) -> ThoughtRows:
    """The rows with thoughts of uniformly random non-special tokens (a control)."""
    allowed = torch.tensor([i for i in range(tokens.vocab) if i not in set(tokens.banned)])
    pick = torch.randint(len(allowed), (len(rows.ids), rows.length), generator=generator)
    return rows.with_thoughts(allowed[pick])


def _device(model) -> torch.device:
    return next(model.parameters()).device
