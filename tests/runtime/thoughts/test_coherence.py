"""Coherence of thoughts: three scores in [0, 1] and their weighted mean; adding the markers."""

from __future__ import annotations

import pytest
import torch

from runtime.thoughts.coherence import coherence_scores, semantic_similarity
from runtime.thoughts.tokens import add_thought_tokens, thought_tokens

WEIGHTS = {"semantic": 1.0, "syntactic": 2.0, "predictive": 3.0}


def scores(model, head, tokens, sequences, pad, seed=0):
    return coherence_scores(model, head, tokens, pad(sequences), [len(s) for s in sequences],
                            per_position=2, n_true=2, temperature=1.0, seed=seed,
                            weights=WEIGHTS, pad_id=0)


def test_scores_lie_in_0_1_and_coherence_is_their_weighted_mean(model, make_head, tokens,
                                                                 sequences, pad):
    out = scores(model, make_head(model), tokens, sequences, pad)
    parts = {name: out[f"coherence.{name}"] for name in WEIGHTS}
    assert all(0 <= value <= 1 for value in parts.values()), parts
    assert 0 < parts["semantic"] < 1 and 0 < parts["syntactic"] < 1
    expected = sum(WEIGHTS[name] * parts[name] for name in WEIGHTS) / sum(WEIGHTS.values())
    assert out["coherence"] == pytest.approx(expected)
    assert out["mixing_weight"] != 0 and out["reward.spread"] > 0
    assert out == scores(model, make_head(model), tokens, sequences, pad)  # seeded


def test_a_fresh_head_gains_nothing(model, fresh_head, tokens, sequences, pad):
    """Mixed == base at first, so the mixed prediction's gain and reward are exactly 0."""
    out = scores(model, fresh_head, tokens, sequences, pad)
    assert out["thought.gain"] == 0 and out["reward"] == 0 and out["reward.spread"] == 0
    assert out["mixing_weight"] == 0


def test_the_three_scores_do_not_depend_on_the_head(model, fresh_head, make_head, tokens,
                                                    sequences, pad):
    """The head only mixes: thoughts, their likelihood and the unmixed gain are the model's."""
    fresh = scores(model, fresh_head, tokens, sequences, pad)
    mixing = scores(model, make_head(model), tokens, sequences, pad)
    for name in WEIGHTS:
        assert fresh[f"coherence.{name}"] == mixing[f"coherence.{name}"], name
    assert 0 < fresh["coherence.predictive"] < 1  # some thoughts help, some do not


def test_semantic_similarity_of_identical_tokens_is_one():
    torch.manual_seed(0)
    embeddings = torch.randn(20, 6)
    ids = torch.tensor([[3, 4, 5], [7, 7, 2]])
    mask = torch.ones(2, 3, dtype=torch.bool)
    torch.testing.assert_close(semantic_similarity(embeddings, ids, ids, mask), torch.ones(2))
    other = torch.tensor([[9, 1, 0], [11, 12, 13]])
    forward = semantic_similarity(embeddings, ids, other, mask)
    torch.testing.assert_close(forward, semantic_similarity(embeddings, other, ids, mask))
    assert ((forward > 0) & (forward < 1)).all()


def test_semantic_similarity_is_half_one_plus_cosine_over_true_tokens():
    embeddings = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    thoughts = torch.tensor([[0, 0], [0, 0], [0, 2]])
    true_ids = torch.tensor([[1, 3], [2, 3], [0, 2]])
    mask = torch.tensor([[True, False], [True, False], [True, True]])  # 3 is masked out
    torch.testing.assert_close(semantic_similarity(embeddings, thoughts, true_ids, mask),
                               torch.tensor([0.0, 0.5, 1.0]))


def word_tokenizer(dash: bool):
    """A tiny word-level tokenizer without thought markers (built locally, no download)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "<eos>", "<unk>", "a", "b", "c"] + (["-"] if dash else [])
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>",
                                   eos_token="<eos>", unk_token="<unk>")


@pytest.mark.parametrize("dash", [True, False])
def test_add_thought_tokens(make_model, dash):
    tokenizer, model = word_tokenizer(dash), make_model(0)
    size = len(tokenizer)
    with pytest.raises(ValueError, match="no <\\|startofthought\\|> / <\\|endofthought\\|>"):
        thought_tokens(tokenizer, 3)
    old = model.get_input_embeddings().weight[:size].detach().clone()  # (V, d)
    assert add_thought_tokens(model, tokenizer) is True
    tokens = thought_tokens(tokenizer, 3)
    assert (tokens.start, tokens.end, tokens.vocab) == (size, size + 1, size + 2)
    assert set(tokens.banned) == {0, 1, 2, size, size + 1}  # pad, eos, unk and the markers
    weight = model.get_input_embeddings().weight
    assert weight.shape[0] == size + 2 == model.get_output_embeddings().weight.shape[0]
    torch.testing.assert_close(weight[:size], old, rtol=0, atol=0)
    init = old[tokenizer.convert_tokens_to_ids("-")] if dash else old.mean(dim=0)
    torch.testing.assert_close(weight[size], init)
    torch.testing.assert_close(weight[size + 1], init)
    assert add_thought_tokens(model, tokenizer) is False
    assert len(tokenizer) == size + 2 and model.get_input_embeddings().weight.shape[0] == size + 2
    logits = model(input_ids=torch.tensor([[3, size, 4, size + 1, 5]])).logits
    assert logits.shape == (1, 5, size + 2)
