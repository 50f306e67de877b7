"""The Quiet-STaR loss: LM losses + REINFORCE with the per-position mean as baseline."""

from __future__ import annotations

import math

import pytest
import torch

from runtime.data.encoding import IGNORE_INDEX
from runtime.thoughts.objective import (
    QuietStarObjective,
    ThoughtSettings,
    every_position,
    lm_nll,
    policy_terms,
    sequence_lengths,
    thought_places,
)
from runtime.thoughts.rows import sample_thoughts, thought_rows
from runtime.thoughts.score import ThoughtScores, score_thoughts


def batch(sequences, pad):
    """Right-padded ids and labels: padding and each sequence's first 2 tokens unsupervised."""
    ids = pad(sequences)
    labels = ids.clone()
    labels[ids == 0] = IGNORE_INDEX
    labels[:, :2] = IGNORE_INDEX
    return ids, labels


def test_every_position():
    assert every_position([3, 1, 4], 2) == [(0, 0, 2), (0, 1, 1), (2, 0, 2), (2, 1, 2), (2, 2, 1)]
    assert every_position([5], 10) == [(0, t, 4 - t) for t in range(4)]
    assert every_position([1, 0], 3) == []


def test_answers_only_keeps_the_places_whose_next_token_is_supervised():
    ids = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 0, 0]])
    labels = torch.tensor([[-100, -100, -100, 8, 9], [-100, -100, 7, -100, -100]])
    everywhere = thought_places(ids, labels, 0, 2, answers_only=False)
    assert everywhere == every_position([5, 3], 2)
    assert thought_places(ids, labels, 0, 2, answers_only=True) == [(0, 2, 2), (0, 3, 1), (1, 1, 1)]


def test_sequence_lengths_of_right_padded_ids():
    ids = torch.tensor([[5, 6, 7, 0, 0], [5, 0, 0, 0, 0], [1, 2, 3, 4, 5], [5, 0, 6, 0, 0]])
    assert sequence_lengths(ids, 0) == [3, 1, 5, 3]  # a pad id inside the text is text
    assert sequence_lengths(torch.tensor([[9, 9, 9]]), 9) == [0]


def test_lm_nll_is_the_models_own_cross_entropy(model, sequences, pad):
    ids, labels = batch(sequences, pad)
    out = model(input_ids=ids, labels=labels)
    own = out.lm_loss if hasattr(out, "lm_loss") else out.loss  # Cognate adds a halting loss
    torch.testing.assert_close(lm_nll(out.logits, labels), own)
    logp = torch.log_softmax(out.logits[:, :-1], -1)
    target = labels[:, 1:]
    keep = target != IGNORE_INDEX
    hand = -logp[keep].gather(-1, target[keep].unsqueeze(-1)).mean()
    torch.testing.assert_close(lm_nll(out.logits, labels), hand)


def hand_scores(per_position: int) -> ThoughtScores:
    """Scores of 6 thoughts (2 true tokens each, one missing) with a leaf ``thought_logp``."""
    torch.manual_seed(0)
    mask = torch.ones(6, 2, dtype=torch.bool)
    mask[5, 1] = False
    mixed = -torch.rand(6, 2) * mask
    base = -torch.rand(6, 2) * mask
    return ThoughtScores(torch.randn(6, requires_grad=True), mixed, mixed.clone(), base,
                         torch.rand(6, 2), mask, torch.zeros(1))


@pytest.mark.parametrize("per_position", [2, 3, 6])
def test_advantage_is_the_reward_minus_its_positions_mean(per_position):
    scores = hand_scores(per_position)
    policy, stats = policy_terms(scores, per_position)
    policy.backward()
    advantage = -scores.thought_logp.grad * 6  # policy = -mean(advantage * log p)
    reward = scores.mixed.sum(dim=1).view(-1, per_position)
    expected = (reward - reward.mean(dim=1, keepdim=True)).reshape(-1)
    torch.testing.assert_close(advantage, expected)
    assert advantage.view(-1, per_position).sum(dim=1).abs().max() < 1e-6
    assert advantage.abs().sum() > 0
    logp = scores.thought_logp.detach()
    assert float(policy.detach()) == pytest.approx(float(-(expected * logp).mean()))
    assert stats["reward.spread"] == pytest.approx(float(expected.abs().mean()))
    gain = (scores.mixed - scores.base).sum(dim=1) / scores.mask.sum(dim=1)
    assert stats["reward"] == pytest.approx(float(gain.mean()))
    assert stats["mixing_weight"] == pytest.approx(float(scores.weight[scores.mask].mean()))


def test_one_thought_per_position_has_no_policy_term():
    scores = hand_scores(1)
    policy, stats = policy_terms(scores, 1)
    assert float(policy.detach()) == 0.0 and stats["reward.spread"] == 0.0
    policy.backward()
    assert not scores.thought_logp.grad.any()


def objective(model, head, tokens, per_position, policy_weight=1.0):
    settings = ThoughtSettings(per_position=per_position, n_true=2, temperature=1.0,
                               policy_weight=policy_weight)
    return QuietStarObjective(model, head, tokens, settings, pad_id=0)


def test_forward_trains_the_model_and_the_head(model, make_head, tokens, sequences, pad):
    ids, labels = batch(sequences, pad)
    head = make_head(model)
    torch.manual_seed(0)
    out = objective(model, head, tokens, 2, policy_weight=0.5)(ids, labels)
    stats = out.stats
    assert math.isfinite(float(out.loss.detach())) and out.loss.requires_grad
    assert float(out.loss.detach()) == pytest.approx(
        stats["loss.lm"] + stats["loss.mixed"] + 0.5 * stats["loss.policy"], rel=1e-5)
    with torch.no_grad():
        own = lm_nll(model(input_ids=ids).logits, labels)
    assert float(out.lm_loss) == pytest.approx(float(own))
    assert stats["loss.policy"] != 0 and stats["reward.spread"] > 0
    out.loss.backward()
    for name, module in (("model", model), ("head", head)):
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        assert grads and sum(float(g.abs().sum()) for g in grads) > 0, name
        assert all(torch.isfinite(g).all() for g in grads), name


def test_one_thought_per_position_forward_has_zero_policy_loss(model, make_head, tokens,
                                                               sequences, pad):
    ids, labels = batch(sequences, pad)
    torch.manual_seed(0)
    out = objective(model, make_head(model), tokens, 1)(ids, labels)
    assert out.stats["loss.policy"] == 0.0 and out.stats["reward.spread"] == 0.0
    assert float(out.loss.detach()) == pytest.approx(out.stats["loss.lm"] + out.stats["loss.mixed"])


def test_the_policy_term_trains_the_model_not_the_head(model, make_head, tokens, sequences, pad):
    """The reward is detached: REINFORCE moves the thought policy (the model) only."""
    head = make_head(model)
    places = every_position([len(s) for s in sequences], 2)
    rows = sample_thoughts(model, thought_rows(sequences, places, tokens, 2, 0), tokens, 1.0,
                           torch.Generator().manual_seed(0))
    scores = score_thoughts(model, head, rows, pad(sequences), tokens, 1.0, 2)
    policy, _ = policy_terms(scores, 2)
    policy.backward()
    assert all(p.grad is None for p in head.parameters())
    assert model.get_input_embeddings().weight.grad.abs().sum() > 0
