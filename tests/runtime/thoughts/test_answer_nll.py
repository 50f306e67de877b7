"""Teacher-forced answer NLL with thoughts and with the three controls."""

from __future__ import annotations

import pytest
import torch

from runtime.data.encoding import IGNORE_INDEX, encode_example
from runtime.data.example import Example
from runtime.thoughts.answers import (
    answer_nll,
    answer_places,
    answer_scores,
    batches,
    control_rows,
    donor_rows,
)
from runtime.thoughts.decode import MODES
from runtime.thoughts.rows import thought_rows

EXAMPLES = (Example("12+30=", "42", "arithmetic", 3), Example("7*8=", "56", "arithmetic", 4),
            Example("3-9=", "-6", "arithmetic", 2),
            Example("Ann has 2 pens. She gets 3 more. How many pens now?", "5", "word_problems"))


def nll(model, head, tokens, tokenizer, mode, seed=0, batch_size=3):
    return answer_nll(model, head, tokens, tokenizer, EXAMPLES, mode, temperature=1.0, seed=seed,
                      batch_size=batch_size, pad_id=tokenizer.pad_token_id)


@torch.no_grad()
def own_answer_nll(model, tokenizer) -> float:
    """By hand: each example alone, the model's log-probabilities of its answer tokens."""
    total, count = 0.0, 0
    for example in EXAMPLES:
        ids, labels = encode_example(example, tokenizer)
        logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
        for t in range(len(ids) - 1):
            if labels[t + 1] != IGNORE_INDEX:
                total -= float(logp[t, ids[t + 1]])
                count += 1
    return total / count


def test_none_is_the_models_own_answer_nll(model, make_head, tokens, tokenizer):
    """``none`` ignores the head (here a trained-looking one) and the thought."""
    expected = own_answer_nll(model, tokenizer)
    assert nll(model, make_head(model), tokens, tokenizer, "none") == pytest.approx(expected,
                                                                                    rel=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_a_fresh_head_makes_every_mode_equal_none(model, fresh_head, tokens, tokenizer, mode):
    """The head's last layer starts at zero: the mixed prediction is the base one."""
    none = nll(model, fresh_head, tokens, tokenizer, "none")
    assert nll(model, fresh_head, tokens, tokenizer, mode, seed=4) == pytest.approx(none, rel=1e-5)


def test_deterministic_given_the_seed(model, make_head, tokens, tokenizer):
    head = make_head(model)
    first = {mode: nll(model, head, tokens, tokenizer, mode, seed=7) for mode in MODES}
    assert first == {mode: nll(model, head, tokens, tokenizer, mode, seed=7) for mode in MODES}
    assert first["thoughts"] != pytest.approx(first["none"])  # the head does mix the thought
    assert nll(model, head, tokens, tokenizer, "random", seed=8) != first["random"]


def test_mean_weight_is_the_heads_and_zero_without_thoughts(model, make_head, tokens, tokenizer):
    head = make_head(model)
    scores = answer_scores(model, head, tokens, tokenizer, EXAMPLES, "thoughts", pad_id=0)
    assert scores.count == sum(len(ex.answer) + 1 for ex in EXAMPLES)  # answer + <|eos|>
    assert 0 < abs(scores.mean_weight) <= 1
    assert answer_scores(model, head, tokens, tokenizer, EXAMPLES, "none", pad_id=0).weight == 0


def test_shuffled_gives_each_row_another_examples_thought(model, tokens, tokenizer):
    """The shuffled rows hold the thoughts the ``thoughts`` mode samples, moved to another
    example at the same answer index (or that example's last)."""
    encoded = [encode_example(ex, tokenizer) for ex in EXAMPLES[:3]] + [
        encode_example(Example("1+1=", "2", "arithmetic"), tokenizer)]  # a shorter answer
    places = answer_places([labels for _, labels in encoded])
    rows = thought_rows([ids for ids, _ in encoded], places, tokens, 1, 0)
    donor = donor_rows(places, len(encoded))
    assert (rows.source[donor] == (rows.source + 1) % len(encoded)).all()
    assert donor.tolist() == [3, 4, 5, 6, 7, 8, 9, 10, 10, 0, 1]

    def filled(mode):
        return control_rows(model, rows, tokens, mode, 1.0, torch.Generator().manual_seed(2),
                            donor).thoughts()
    assert torch.equal(filled("shuffled"), filled("thoughts")[donor])


def test_batches_never_leave_one_example_alone():
    assert [len(b) for b in batches(list(range(7)), 3)] == [3, 4]
    assert [len(b) for b in batches(list(range(6)), 1)] == [2, 2, 2]
    with pytest.raises(ValueError, match="two examples"):
        answer_scores(None, None, None, None, EXAMPLES[:1], "shuffled")
    with pytest.raises(ValueError, match="unknown thought mode"):
        answer_scores(None, None, None, None, EXAMPLES, "dream")
