"""The mixing head: the base model's output at first, and able to learn."""

from __future__ import annotations

import torch

from runtime.thoughts.head import MixingHead
from runtime.thoughts.lm import run_lm
from runtime.thoughts.rows import every_position, sample_thoughts, thought_rows
from runtime.thoughts.score import predictions, score_thoughts


def sampled_rows(model, tokens, sequences, n_true=2, per_position=2):
    places = every_position([len(s) for s in sequences], n_true)
    rows = thought_rows(sequences, places, tokens, per_position, 0)
    return sample_thoughts(model, rows, tokens, 1.0, torch.Generator().manual_seed(0))


def test_run_lm_returns_the_lm_heads_input(model, sequences):
    logits, hidden = run_lm(model, torch.tensor([sequences[0]]))
    assert hidden.shape == (1, len(sequences[0]), model.get_output_embeddings().in_features)
    torch.testing.assert_close(model.get_output_embeddings()(hidden), logits)


@torch.no_grad()
def test_a_fresh_head_gives_exactly_the_base_logits(model, fresh_head, tokens, sequences, pad):
    assert not fresh_head.outer.weight.any() and not fresh_head.outer.bias.any()
    rows = sampled_rows(model, tokens, sequences)
    row_out, base_out = run_lm(model, rows.ids), run_lm(model, pad(sequences))
    pred = predictions(fresh_head, rows, row_out, base_out, 2)
    assert not torch.equal(pred.thought, pred.base)  # the thought does change the prediction
    assert torch.equal(pred.mixed, pred.base)
    assert torch.equal(pred.weight, torch.zeros_like(pred.weight))
    scores = score_thoughts(model, fresh_head, rows, pad(sequences), tokens, 1.0, 2)
    assert torch.equal(scores.mixed, scores.base)


def test_mixing_is_a_weighted_blend():
    torch.manual_seed(0)
    head = MixingHead(8, 4)
    with torch.no_grad():
        head.outer.weight.normal_()
    base, thought = torch.randn(3, 5), torch.randn(3, 5)
    h_base, h_thought = torch.randn(3, 8), torch.randn(3, 8)
    mixed, w = head(base, thought, h_base, h_thought)
    assert w.shape == (3,) and (w.abs() < 1).all() and (w != 0).all()
    torch.testing.assert_close(mixed, (1 - w[:, None]) * base + w[:, None] * thought)
    hand = torch.tanh(head.outer(torch.relu(head.inner(torch.cat([h_base, h_thought], -1)))))
    torch.testing.assert_close(w, hand.squeeze(-1))
    _, swapped = head(base, thought, h_thought, h_base)
    assert not torch.allclose(w, swapped)  # the order [h_base; h_thought] matters


def test_gradient_reaches_the_fresh_heads_last_layer(model, fresh_head, tokens, sequences, pad):
    rows = sampled_rows(model, tokens, sequences)
    scores = score_thoughts(model, fresh_head, rows, pad(sequences), tokens, 1.0, 2)
    (-scores.mixed.sum()).backward()
    assert fresh_head.outer.weight.grad is not None
    assert fresh_head.outer.weight.grad.abs().sum() > 0
    assert fresh_head.outer.bias.grad.abs().sum() > 0
    torch.optim.SGD(fresh_head.parameters(), lr=0.1).step()
    assert fresh_head.outer.weight.any()  # one step and the head mixes
