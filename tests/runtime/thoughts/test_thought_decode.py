"""Greedy decoding with thoughts, without them, and with the two controls."""

from __future__ import annotations

import pytest
import torch

from runtime.thoughts.decode import MODES, decode, fill_thoughts, next_tokens
from runtime.thoughts.lm import run_lm
from runtime.thoughts.rows import random_thoughts, sample_thoughts, thought_rows

MAX_NEW = 4


@pytest.fixture(scope="module")
def prompts(tokenizer) -> list[list[int]]:
    """Three prompts, two of the same length."""
    return [tokenizer(text)["input_ids"] for text in ("12+30=", "7*8=", "3-1=")]


@torch.no_grad()
def plain_greedy(model, prompts, stop_ids) -> list[list[int]]:
    """Greedy decoding by hand: argmax of the model's last logits, one prompt at a time."""
    out = []
    for prompt in prompts:
        seq, new = list(prompt), []
        for _ in range(MAX_NEW):
            token = int(model(input_ids=torch.tensor([seq])).logits[0, -1].argmax())
            seq.append(token)
            new.append(token)
            if token in stop_ids:
                break
        out.append(new)
    return out


def run(model, head, tokens, prompts, mode, stop_ids=(2,), seed=0):
    return decode(model, head, tokens, prompts, max_new_tokens=MAX_NEW, stop_ids=list(stop_ids),
                  pad_id=0, mode=mode, temperature=1.0, seed=seed)


@pytest.mark.parametrize("mode", ["none", "thoughts"])
def test_no_thought_or_a_fresh_head_is_plain_greedy(model, fresh_head, tokens, prompts, mode):
    """``none`` ignores thoughts; with a fresh head the mixed prediction is the base one."""
    stop = plain_greedy(model, prompts, ())[0][0]  # the first prompt stops after one token
    expected = plain_greedy(model, prompts, (stop,))
    assert len(expected[0]) == 1 and max(len(e) for e in expected) == MAX_NEW
    assert run(model, fresh_head, tokens, prompts, mode, stop_ids=(stop,)) == expected


@pytest.mark.parametrize("mode", MODES)
def test_decoding_is_deterministic_given_the_seed(model, make_head, tokens, prompts, mode):
    head = make_head(model)
    first = run(model, head, tokens, prompts, mode, seed=3)
    assert first == run(model, head, tokens, prompts, mode, seed=3)
    assert all(len(n) == MAX_NEW or n[-1] == 2 for n in first)  # cut after the stop token only


@torch.no_grad()
def test_next_tokens_mix_the_thoughts_prediction(model, make_head, tokens, prompts):
    """The next token is the argmax of the mixed prediction at ``<|endofthought|>``."""
    head = make_head(model)
    chosen, weights = next_tokens(model, head, tokens, prompts, "thoughts", 1.0,
                                  torch.Generator().manual_seed(5), 0)
    places = [(i, len(p) - 1, 0) for i, p in enumerate(prompts)]
    rows = sample_thoughts(model, thought_rows(prompts, places, tokens, 1, 0), tokens, 1.0,
                           torch.Generator().manual_seed(5))
    for i, thought in enumerate(rows.thoughts().tolist()):
        base_logits, base_hidden = run_lm(model, torch.tensor([prompts[i]]))
        row = prompts[i] + [tokens.start] + thought + [tokens.end]
        logits, hidden = run_lm(model, torch.tensor([row]))
        w = head.weight(base_hidden[0, -1], hidden[0, -1])
        mixed = base_logits[0, -1] + w * (logits[0, -1] - base_logits[0, -1])
        assert float(weights[i]) == pytest.approx(float(w), abs=1e-5) and float(w) != 0
        assert int(chosen[i]) == int(mixed.argmax())
    _, none_weights = next_tokens(model, head, tokens, prompts, "none", 1.0,
                                  torch.Generator().manual_seed(5), 0)
    assert not none_weights.any()


@torch.no_grad()
def test_shuffled_thoughts_are_the_sampled_ones_rolled_by_one_row(model, tokens, prompts):
    places = [(i, len(p) - 1, 0) for i, p in enumerate(prompts)]
    rows = thought_rows(prompts, places, tokens, 1, 0)
    sampled = sample_thoughts(model, rows, tokens, 1.0, torch.Generator().manual_seed(1))
    shuffled = fill_thoughts(model, rows, tokens, "shuffled", 1.0, torch.Generator().manual_seed(1))
    own, given = sampled.thoughts(), shuffled.thoughts()
    assert not torch.equal(own, given)
    for i in range(len(prompts)):
        assert torch.equal(given[i], own[(i + 1) % len(prompts)])
    outside = torch.ones_like(rows.ids, dtype=torch.bool)
    outside.scatter_(1, rows.position.unsqueeze(1) + 2 + torch.arange(tokens.length), False)
    assert torch.equal(shuffled.ids[outside], rows.ids[outside])  # only the thoughts moved


def test_one_prompt_alone_cannot_be_given_another_prompts_thought(model, tokens, prompts):
    rows = thought_rows(prompts[:1], [(0, len(prompts[0]) - 1, 0)], tokens, 1, 0)
    with pytest.raises(ValueError, match="at least two prompts"):
        fill_thoughts(model, rows, tokens, "shuffled", 1.0, torch.Generator().manual_seed(1))


def test_random_mode_fills_in_random_thoughts(model, tokens, prompts):
    rows = thought_rows(prompts, [(i, len(p) - 1, 0) for i, p in enumerate(prompts)], tokens, 1, 0)
    filled = fill_thoughts(model, rows, tokens, "random", 1.0, torch.Generator().manual_seed(2))
    expected = random_thoughts(rows, tokens, torch.Generator().manual_seed(2))
    assert torch.equal(filled.ids, expected.ids)
    assert not set(filled.thoughts().flatten().tolist()) & set(tokens.banned)


def test_an_unknown_mode_is_refused(model, fresh_head, tokens, prompts):
    with pytest.raises(ValueError, match="unknown thought mode 'sideways'"):
        run(model, fresh_head, tokens, prompts, "sideways")
