"""Batched thought rows against a per-position loop; causality; what a thought may hold."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from runtime.thoughts.lm import run_lm
from runtime.thoughts.rows import (
    every_position,
    policy_logits,
    random_thoughts,
    sample_thoughts,
    thought_rows,
)
from runtime.thoughts.score import score_thoughts

N_TRUE, PER_POSITION, TEMPERATURE = 3, 2, 1.5


def one_row(model, head, tokens, seq, t, thought, n):
    """What the paper computes for one thought after token ``t`` of ``seq``, alone, unpadded:
    ``(thought, base, mixed)`` log-likelihoods of the ``n`` true tokens and ``log p(thought)``."""
    k = len(thought)
    base_logits, base_hidden = run_lm(model, torch.tensor([seq]))
    row = seq[: t + 1] + [tokens.start] + thought + [tokens.end] + seq[t + 1: t + 1 + n]
    logits, hidden = run_lm(model, torch.tensor([row]))
    logp = 0.0
    for j in range(k):  # thought token j is predicted at the start marker + j
        policy = torch.log_softmax(policy_logits(logits[0, t + 1 + j], tokens, TEMPERATURE), -1)
        logp += float(policy[thought[j]])
    out = {"thought": [], "base": [], "mixed": []}
    for i in range(n):
        target = seq[t + 1 + i]
        with_thought, without = logits[0, t + 2 + k + i], base_logits[0, t + i]
        w = head.weight(base_hidden[0, t + i], hidden[0, t + 2 + k + i])
        mixed = without + w * (with_thought - without)
        for name, value in (("thought", with_thought), ("base", without), ("mixed", mixed)):
            out[name].append(float(torch.log_softmax(value, -1)[target]))
    return out, logp


@torch.no_grad()
def test_batched_scores_equal_a_per_position_loop(model, make_head, tokens, sequences, pad):
    head = make_head(model)
    places = every_position([len(s) for s in sequences], N_TRUE)
    rows = thought_rows(sequences, places, tokens, PER_POSITION, 0)
    rows = sample_thoughts(model, rows, tokens, TEMPERATURE, torch.Generator().manual_seed(0))
    scores = score_thoughts(model, head, rows, pad(sequences), tokens, TEMPERATURE, N_TRUE)
    assert len(rows.ids) == PER_POSITION * len(places) == PER_POSITION * (8 + 4)
    assert scores.weight[scores.mask].abs().min() > 1e-3  # the head really mixes
    for r, thought in enumerate(rows.thoughts().tolist()):
        b, t, n = places[r // PER_POSITION]
        expected, logp = one_row(model, head, tokens, sequences[b], t, thought, n)
        assert scores.mask[r].tolist() == [i < n for i in range(N_TRUE)]
        for name in ("thought", "base", "mixed"):
            got = getattr(scores, name)[r]
            torch.testing.assert_close(got[:n], torch.tensor(expected[name]), atol=1e-5, rtol=0)
            assert not got[n:].any()  # missing true tokens score 0
        assert float(scores.thought_logp[r]) == pytest.approx(logp, abs=1e-5)


@torch.no_grad()
def test_greedy_thoughts_equal_token_by_token_generation(model, tokens, sequences):
    places = every_position([len(s) for s in sequences], N_TRUE)
    rows = thought_rows(sequences, places, tokens, 1, 0)
    greedy = sample_thoughts(model, rows, tokens, TEMPERATURE, greedy=True).thoughts().tolist()
    for r, (b, t, _) in enumerate(places):
        prefix = sequences[b][: t + 1] + [tokens.start]
        for _ in range(tokens.length):
            logits, _ = run_lm(model, torch.tensor([prefix]))
            prefix.append(int(policy_logits(logits[0, -1], tokens, TEMPERATURE).argmax()))
        assert greedy[r] == prefix[-tokens.length:], (b, t)


def test_rows_layout(tokens, sequences):
    places = [(0, 2, 3), (1, 4, 0)]
    rows = thought_rows(sequences, places, tokens, 2, 0)
    k, seq = tokens.length, sequences[0]
    first = seq[:3] + [tokens.start] + [0] * k + [tokens.end] + seq[3:6]
    assert rows.ids[0].tolist() == first and rows.ids[1].tolist() == first
    second = sequences[1] + [tokens.start] + [0] * k + [tokens.end]
    assert rows.ids[2, : len(second)].tolist() == second and not rows.ids[2, len(second):].any()
    assert rows.source.tolist() == [0, 0, 1, 1] and rows.position.tolist() == [2, 2, 4, 4]
    assert rows.n_true.tolist() == [3, 3, 0, 0]
    thoughts = torch.arange(100, 100 + 4 * k).view(4, k)
    filled = rows.with_thoughts(thoughts)
    assert torch.equal(filled.thoughts(), thoughts)
    assert filled.ids[0, 3] == tokens.start and filled.ids[0, 4 + k] == tokens.end
    assert torch.equal(rows.ids, thought_rows(sequences, places, tokens, 2, 0).ids)  # not mutated


@torch.no_grad()
def test_a_thought_never_sees_later_tokens(model, make_head, tokens, sequences):
    seq = sequences[0]
    changed = seq[:6] + [(seq[6] + 7) % 90 + 11] + seq[7:]  # another ordinary token at 6
    assert changed != seq
    places = [(0, t, min(2, 5 - t)) for t in range(5)]  # true tokens end before position 6
    head = make_head(model)

    def thoughts_and_scores(sequence):
        rows = thought_rows([sequence], places, tokens, 1, 0)
        rows = sample_thoughts(model, rows, tokens, 1.0, greedy=True)
        return rows, score_thoughts(model, head, rows, torch.tensor([sequence]), tokens, 1.0, 2)

    (rows, scores), (rows_changed, scores_changed) = map(thoughts_and_scores, (seq, changed))
    assert torch.equal(rows.thoughts(), rows_changed.thoughts())
    for name in ("thought_logp", "thought", "base", "mixed", "weight"):
        torch.testing.assert_close(getattr(scores, name), getattr(scores_changed, name),
                                   atol=1e-6, rtol=0)
    assert not torch.allclose(scores.base_logits[0, 6], scores_changed.base_logits[0, 6])


@torch.no_grad()
def test_special_and_out_of_vocabulary_ids_are_never_sampled(model, tokens, sequences):
    narrow = dataclasses.replace(tokens, vocab=100)  # the model's logits go up to 108
    places = [(0, t, 0) for t in range(4)]
    rows = thought_rows(sequences, places, narrow, 100, 0)
    thoughts = sample_thoughts(model, rows, narrow, 5.0, torch.Generator().manual_seed(0))
    drawn = set(thoughts.thoughts().flatten().tolist())
    assert not drawn & set(narrow.banned) and max(drawn) < 100
    assert len(drawn) > 60  # temperature 5 is near uniform: the ban is what keeps them out
    assert set(narrow.banned) == set(range(11))  # pad, bos, eos, unk, markers, tool, <|sep|>


def test_random_thoughts_hold_ordinary_tokens_only(tokens, sequences):
    rows = thought_rows(sequences, [(0, 1, 0)], tokens, 500, 0)
    drawn = random_thoughts(rows, tokens, torch.Generator().manual_seed(0)).thoughts()
    values = set(drawn.flatten().tolist())
    assert values == set(range(11, tokens.vocab))  # every allowed token, nothing else


def test_policy_logits_are_tempered_and_ban_special_tokens(tokens):
    logits = torch.randn(2, 120)
    policy = policy_logits(logits, tokens, 2.0)
    allowed = [i for i in range(tokens.vocab) if i not in tokens.banned]
    torch.testing.assert_close(policy[:, allowed], logits[:, allowed] / 2.0)
    assert torch.isneginf(policy[:, list(tokens.banned)]).all()
    assert torch.isneginf(policy[:, tokens.vocab:]).all()
    assert not torch.isneginf(logits).any()  # the input is left alone
