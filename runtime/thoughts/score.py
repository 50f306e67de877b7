"""Scoring thoughts: the true tokens' likelihood with the thought, without it, and mixed.

For row ``r`` (a thought after token ``t``) and true token ``i`` (``x[t+1+i]``):

- with the thought: the row's prediction at ``<|endofthought|>`` + ``i``;
- without: the sequence's own prediction at ``t + i``;
- mixed: the mixing head's blend of the two (:mod:`runtime.thoughts.head`).

The thought's own log-probability under the sampling policy is what REINFORCE pushes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from runtime.thoughts.head import MixingHead
from runtime.thoughts.lm import run_lm
from runtime.thoughts.rows import ThoughtRows, policy_logits
from runtime.thoughts.tokens import ThoughtTokens


@dataclass
class Predictions:
    """The predictions of the ``n`` tokens after each row's thought.

    Attributes:
        mixed, thought, base: logits ``(R, n, V)``.
        weight: mixing weights ``(R, n)``.
        mask: ``(R, n)``, True where the prediction exists (``i < n_true``, or ``i == 0``
            when decoding).
    """

    mixed: torch.Tensor
    thought: torch.Tensor
    base: torch.Tensor
    weight: torch.Tensor
    mask: torch.Tensor


def predictions(head: MixingHead, rows: ThoughtRows, row_out, base_out, n: int) -> Predictions:
    """Gather and mix the predictions of the ``n`` tokens after each thought.

    ``row_out`` / ``base_out`` are :func:`run_lm` outputs of ``rows.ids`` and of the
    sequences the rows come from.
    """
    (logits, hidden), (base_logits, base_hidden) = row_out, base_out
    device = logits.device
    r = torch.arange(len(rows.ids), device=device).unsqueeze(1)  # (R, 1)
    i = torch.arange(n, device=device)  # (n,)
    position, source = rows.position.to(device).unsqueeze(1), rows.source.to(device).unsqueeze(1)
    mask = (i < rows.n_true.to(device).unsqueeze(1).clamp(min=1))  # (R, n)
    at_row = (position + 2 + rows.length + i).clamp(max=logits.shape[1] - 1)  # (R, n)
    at_base = (position + i).clamp(max=base_logits.shape[1] - 1)  # (R, n)
    thought, base = logits[r, at_row], base_logits[source, at_base]  # (R, n, V)
    mixed, weight = head(base, thought, base_hidden[source, at_base], hidden[r, at_row])
    return Predictions(mixed, thought, base, weight, mask)


@dataclass
class ThoughtScores:
    """What one batch of thoughts scored.

    Attributes:
        thought_logp: ``(R,)`` log-probability of each thought under the sampling policy.
        mixed, thought, base: ``(R, n)`` log-likelihood of each true token, mixed, with
            the thought alone, and without a thought (0 where ``mask`` is False).
        weight: ``(R, n)`` mixing weights; mask: ``(R, n)`` which true tokens exist.
        base_logits: ``(B, T, V)`` the sequences' own logits (for the LM loss).
    """

    thought_logp: torch.Tensor
    mixed: torch.Tensor
    thought: torch.Tensor
    base: torch.Tensor
    weight: torch.Tensor
    mask: torch.Tensor
    base_logits: torch.Tensor


def _true_logp(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return logp * mask


def thought_logp(logits: torch.Tensor, rows: ThoughtRows, tokens: ThoughtTokens,
                 temperature: float) -> torch.Tensor:
    """``(R,)`` summed policy log-probability of each row's thought tokens."""
    device = logits.device
    r = torch.arange(len(rows.ids), device=device).unsqueeze(1)
    at = rows.position.to(device).unsqueeze(1) + 1 + torch.arange(rows.length, device=device)
    policy = torch.log_softmax(policy_logits(logits[r, at], tokens, temperature), dim=-1)
    chosen = rows.ids.to(device)[r, at + 1]  # (R, k)
    return policy.gather(-1, chosen.unsqueeze(-1)).squeeze(-1).sum(dim=1)


def score_thoughts(model, head: MixingHead, rows: ThoughtRows, sequences: torch.Tensor,
                   tokens: ThoughtTokens, temperature: float, n_true: int) -> ThoughtScores:
    """Score filled ``rows`` of ``sequences (B, T)`` (with gradients when enabled)."""
    device = next(model.parameters()).device
    base_out = run_lm(model, sequences.to(device))
    row_out = run_lm(model, rows.ids.to(device))
    pred = predictions(head, rows, row_out, base_out, n_true)
    r = torch.arange(len(rows.ids), device=device).unsqueeze(1)
    i = torch.arange(n_true, device=device)
    at = (rows.position.to(device).unsqueeze(1) + 3 + rows.length + i).clamp(
        max=rows.ids.shape[1] - 1)
    targets = rows.ids.to(device)[r, at]  # (R, n) the true tokens
    mask = pred.mask & (i < rows.n_true.to(device).unsqueeze(1))
    return ThoughtScores(thought_logp(row_out[0], rows, tokens, temperature),
                         _true_logp(pred.mixed, targets, mask),
                         _true_logp(pred.thought, targets, mask),
                         _true_logp(pred.base, targets, mask), pred.weight, mask, base_out[0])
