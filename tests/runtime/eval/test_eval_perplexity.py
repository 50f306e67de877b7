"""Perplexity: uniform logits give V; padding and batching change nothing; matches HF loss."""

import math

import pytest
import torch

from runtime.data import TASKS, make_split, training_text
from runtime.eval import perplexity


@pytest.fixture(scope="module")
def texts():
    return [training_text(e) for e in make_split(TASKS.names(), 24, seed=0, split="heldout")]


@pytest.mark.parametrize("vocab_size", [128, 1000])
def test_uniform_logits_give_the_vocabulary_size(tokenizer, texts, vocab_size, uniform_model):
    # float32 log-softmax: log(V) is exact to ~1e-7 relative.
    assert perplexity(uniform_model(vocab_size), tokenizer, texts) == pytest.approx(vocab_size,
                                                                                    rel=1e-6)


def test_batching_and_padding_do_not_change_the_value(tokenizer, tiny_llama, texts):
    model = tiny_llama()
    one = perplexity(model, tokenizer, texts, batch_size=1)
    padded = perplexity(model, tokenizer, texts, batch_size=8)
    assert padded == pytest.approx(one, rel=1e-5)


def test_matches_the_models_own_loss_on_one_text(tokenizer, tiny_llama, texts):
    model = tiny_llama()
    ids = torch.tensor([tokenizer(texts[0])["input_ids"]])
    with torch.no_grad():
        loss = model(input_ids=ids, labels=ids).loss.item()
    assert perplexity(model, tokenizer, texts[:1]) == pytest.approx(math.exp(loss), rel=1e-5)


def test_too_short_texts_are_an_error(tokenizer, uniform_model):
    with pytest.raises(ValueError, match="at least two tokens"):
        perplexity(uniform_model(8), tokenizer, [""])


def test_answer_nll_counts_only_answer_tokens_and_ignores_batching(tokenizer, tiny_llama):
    from runtime.data.encoding import IGNORE_INDEX, encode_example
    from runtime.eval import answer_nll

    examples = make_split(TASKS.names(), 12, seed=1, split="heldout")
    model = tiny_llama()
    one, n_one = answer_nll(model, tokenizer, examples, batch_size=1)
    batched, n_batched = answer_nll(model, tokenizer, examples, batch_size=5)
    answers = sum(sum(label != IGNORE_INDEX for label in encode_example(ex, tokenizer)[1][1:])
                  for ex in examples)
    assert n_one == n_batched == answers
    assert batched == pytest.approx(one, rel=1e-5)
