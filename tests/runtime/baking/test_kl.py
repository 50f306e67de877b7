"""The baking loss and the counted-token mask."""

from __future__ import annotations

import torch

from runtime.baking.kl import token_kl
from runtime.baking.trajectories import counted_tokens


def test_token_kl_matches_the_definition():
    generator = torch.Generator().manual_seed(0)
    teacher = torch.randn(2, 3, 5, generator=generator).log_softmax(-1)  # (B, L, V)
    student = torch.randn(2, 3, 5, generator=generator)  # (B, L, V) logits
    counted = torch.tensor([[1, 1, 1], [1, 1, 0]])
    got = token_kl(teacher, student, counted)
    p, logq = teacher.exp(), student.log_softmax(-1)
    per_token = (p * (teacher - logq)).sum(-1)  # (B, L)
    expected = torch.stack([per_token[0].mean(), per_token[1, :2].mean()])
    assert torch.allclose(got, expected, atol=1e-6)
    assert (got > 0).all()


def test_token_kl_is_zero_for_the_same_distribution():
    logits = torch.randn(2, 4, 7, generator=torch.Generator().manual_seed(1))
    assert torch.equal(token_kl(logits.log_softmax(-1), logits, torch.ones(2, 4)),
                       torch.zeros(2))


def test_counted_tokens_stop_after_the_first_eos():
    tokens = torch.tensor([[5, 2, 7, 2], [5, 6, 7, 8]])
    assert counted_tokens(tokens, 2).tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    assert counted_tokens(tokens, None).tolist() == [[1, 1, 1, 1]] * 2
