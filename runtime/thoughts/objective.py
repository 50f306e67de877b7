"""The Quiet-STaR training objective, as a module ``train_steps`` can train.

Per batch of sequences ``x``:

1. rows for ``thoughts_per_position`` thoughts after every token (``rows``), thoughts
   sampled from the model itself at ``temperature`` (torch's global generator, which the
   training stage seeds and checkpoints);
2. ``lm`` = next-token NLL of the supervised tokens without thoughts;
   ``mixed`` = NLL of the ``n_true`` true tokens after each thought, mixed prediction;
3. reward of a thought = summed mixed log-likelihood of its true tokens; advantage =
   reward - the mean reward of the thoughts at the same position; REINFORCE loss
   ``policy = -mean(advantage * log p(thought))``;
4. ``loss = lm + mixed + policy_weight * policy``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from runtime.data.encoding import IGNORE_INDEX
from runtime.thoughts.head import MixingHead
from runtime.thoughts.rows import every_position, sample_thoughts, thought_rows
from runtime.thoughts.score import ThoughtScores, score_thoughts
from runtime.thoughts.tokens import ThoughtTokens


@dataclass(frozen=True)
class ThoughtSettings:
    """What the objective needs from the phase's parameters."""

    per_position: int
    n_true: int
    temperature: float
    policy_weight: float
    answers_only: bool = False  # thoughts only where the next token is supervised


@dataclass
class ObjectiveOutput:
    """``loss`` to minimise, ``lm_loss`` (the no-thought NLL) and the batch's ``stats``, as
    ``train_steps`` reads them (it logs ``stats`` every step)."""

    loss: torch.Tensor
    lm_loss: torch.Tensor
    stats: dict[str, float]


def sequence_lengths(input_ids: torch.Tensor, pad_id: int) -> list[int]:
    """Tokens before the right padding of each row of ``input_ids (B, T)``."""
    nonpad = (input_ids != pad_id).long()  # (B, T)
    last = nonpad * torch.arange(1, input_ids.shape[1] + 1)  # (B, T)
    return [int(v) for v in last.max(dim=1).values]


def thought_places(input_ids: torch.Tensor, labels: torch.Tensor, pad_id: int, n_true: int,
                   answers_only: bool) -> list[tuple[int, int, int]]:
    """Where thoughts go: after every token (the paper), or, with ``answers_only``, only
    after tokens whose next token is supervised (an answer's)."""
    places = every_position(sequence_lengths(input_ids, pad_id), n_true)
    if not answers_only:
        return places
    supervised = (labels != IGNORE_INDEX).tolist()  # (B, T)
    return [(b, t, n) for b, t, n in places if supervised[b][t + 1]]


def lm_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token NLL of the supervised labels (shifted like any causal LM)."""
    return nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(),
                                       labels[:, 1:].flatten().to(logits.device),
                                       ignore_index=IGNORE_INDEX)


def policy_terms(scores: ThoughtScores, per_position: int) -> tuple[torch.Tensor, dict]:
    """The REINFORCE loss and the batch's reward statistics."""
    reward = scores.mixed.detach().sum(dim=1)  # (R,)
    grouped = reward.view(-1, per_position)  # (positions, m)
    advantage = (grouped - grouped.mean(dim=1, keepdim=True)).reshape(-1)  # (R,)
    policy = -(advantage * scores.thought_logp).mean()
    count = scores.mask.sum(dim=1).clamp(min=1)
    gain = ((scores.mixed - scores.base).detach().sum(dim=1) / count).mean()
    return policy, {"reward": float(gain), "reward.spread": float(advantage.abs().mean()),
                    "mixing_weight": float(scores.weight.detach()[scores.mask].mean())}


class QuietStarObjective(nn.Module):
    """The language model and its mixing head, trained together on the Quiet-STaR loss.

    ``forward(input_ids, labels)`` returns an :class:`ObjectiveOutput` whose ``stats`` are
    ``loss.lm``, ``loss.mixed``, ``loss.policy``, ``reward`` (mean gain of the mixed
    prediction over no thought, nats per true token), ``reward.spread`` (mean |advantage|)
    and ``mixing_weight``.
    """

    def __init__(self, model, head: MixingHead, tokens: ThoughtTokens, settings: ThoughtSettings,
                 pad_id: int):
        super().__init__()
        self.model, self.head = model, head
        self.tokens, self.settings, self.pad_id = tokens, settings, pad_id

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor) -> ObjectiveOutput:
        s = self.settings
        places = thought_places(input_ids, labels, self.pad_id, s.n_true, s.answers_only)
        rows = thought_rows(input_ids.tolist(), places, self.tokens, s.per_position, self.pad_id)
        rows = sample_thoughts(self.model, rows, self.tokens, s.temperature)
        scores = score_thoughts(self.model, self.head, rows, input_ids, self.tokens,
                                s.temperature, s.n_true)
        lm = lm_nll(scores.base_logits, labels)
        mixed = -scores.mixed.sum() / scores.mask.sum().clamp(min=1)
        policy, stats = policy_terms(scores, s.per_position)
        loss = lm + mixed + s.policy_weight * policy
        stats.update({"loss.lm": float(lm.detach()), "loss.mixed": float(mixed.detach()),
                      "loss.policy": float(policy.detach())})
        return ObjectiveOutput(loss, lm.detach(), stats)
