"""Exact teacher-forced answers: correct_rows on known logits, and agreement with greedy
decoding's exact match on a model that has learned some answers and not others."""

from __future__ import annotations

import pytest
import torch

from runtime.curriculum.scoring import accuracy, correct_rows, exact_answers
from runtime.data import make_split
from runtime.data.encoding import IGNORE_INDEX
from runtime.eval import evaluate
from runtime.phases.toolkit.batches import encode_pool
from tests.runtime.phases.kernel_inputs import suite_tokenizer


def test_a_row_is_correct_only_when_every_supervised_token_is_the_argmax():
    labels = torch.tensor([[IGNORE_INDEX, IGNORE_INDEX, 5, 6],
                           [IGNORE_INDEX, IGNORE_INDEX, 5, 6],
                           [IGNORE_INDEX] * 4])  # (3, 4)
    logits = torch.zeros(3, 4, 8)
    logits[:, 1, 5] = logits[:, 2, 6] = 1.0  # position t predicts token t + 1
    logits[1, 2, 7] = 2.0  # row 1 gets its second answer token wrong
    assert correct_rows(logits, labels).tolist() == [True, False, False]  # row 2: nothing asked


def _memorised_llama(examples, tokenizer):
    """A small Llama trained on ``examples`` until it answers most of them."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=128, pad_token_id=0, bos_token_id=1,
                         eos_token_id=2)
    model = LlamaForCausalLM(config)
    ids, labels = encode_pool(examples, tokenizer, 64)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(120):
        loss = model(input_ids=ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def test_teacher_forced_exactness_equals_greedy_exact_match():
    torch.set_num_threads(1)
    tokenizer = suite_tokenizer()
    learned = make_split(["arithmetic", "tool_use"], 6, seed=3, levels=[1])
    unseen = make_split(["arithmetic", "tool_use"], 6, seed=4, split="heldout", levels=[1])
    model = _memorised_llama(learned, tokenizer)
    examples = learned + unseen
    fast = exact_answers(model, tokenizer, examples, 64, batch_size=5, device="cpu")
    greedy = [r.correct for r in evaluate(model, tokenizer, examples, max_new_tokens=40,
                                          batch_size=4, device="cpu").records]
    assert fast == greedy
    assert 0 < sum(fast) < len(fast)  # the comparison saw both outcomes
    assert accuracy(fast) == pytest.approx(sum(fast) / len(fast))
    with pytest.raises(ValueError):
        accuracy([])
