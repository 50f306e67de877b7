"""Self-written personas: seeded, batched, bounded in length, cut at the end token."""

from __future__ import annotations

import pytest
import torch

from runtime.personas import fit_persona, write_personas


@pytest.fixture(scope="module")
def lm():
    from forgelang.kinds.cognate import CognateParams
    from runtime.nn import TrmTitansMagForCausalLM
    from runtime.phases.cognate import model_config
    from tests.runtime.phases.kernel_inputs import suite_tokenizer

    torch.manual_seed(0)
    model = TrmTitansMagForCausalLM(model_config(CognateParams(architecture="smoke"))).eval()
    return model, suite_tokenizer()


def test_the_same_seed_writes_the_same_personas_and_another_seed_others(lm):
    model, tokenizer = lm
    first = write_personas(model, tokenizer, "Write a persona.", 4, 8, seed=1, device="cpu")
    again = write_personas(model, tokenizer, "Write a persona.", 4, 8, seed=1, device="cpu")
    other = write_personas(model, tokenizer, "Write a persona.", 4, 8, seed=2, device="cpu")
    assert first == again and first != other and len(first) == 4
    assert len(set(first)) > 1  # rows are sampled independently


def test_a_persona_has_at_most_max_tokens_and_no_special_tokens(lm):
    model, tokenizer = lm
    for text in write_personas(model, tokenizer, "Write a persona.", 6, 5, seed=3, device="cpu"):
        assert len(tokenizer(text, add_special_tokens=False).input_ids) <= 5
        assert "<|" not in text


class EndsAfterOne(torch.nn.Module):
    """A model that writes token ``first`` and then only the end token; counts its calls."""

    def __init__(self, vocab: int, prompt_len: int, first: int, eos: int):
        super().__init__()
        self.vocab, self.prompt_len, self.first, self.eos, self.calls = vocab, prompt_len, first, eos, 0

    def forward(self, input_ids):
        self.calls += 1
        logits = torch.full((*input_ids.shape, self.vocab), -1e9)  # (B, T, V)
        token = self.first if input_ids.shape[1] == self.prompt_len else self.eos
        logits[:, -1, token] = 0.0
        return type("Out", (), {"logits": logits})()


def test_a_persona_ends_at_the_first_end_token(lm):
    _, tokenizer = lm
    prompt_len = len(tokenizer("Write a persona.<|sep|>").input_ids)
    first = tokenizer("a", add_special_tokens=False).input_ids[0]
    model = EndsAfterOne(len(tokenizer), prompt_len, first, tokenizer.eos_token_id)
    texts = write_personas(model, tokenizer, "Write a persona.", 3, 12, seed=0, device="cpu")
    assert model.calls == 2  # stopped once every row had ended
    assert texts == ["a", "a", "a"]


def test_fit_persona_cuts_long_text_to_its_token_budget(lm):
    _, tokenizer = lm
    long = "Talk like a pirate and never stop talking like one"
    assert fit_persona(tokenizer, long, 1000) == long
    cut = fit_persona(tokenizer, long, 5)
    assert len(tokenizer(cut, add_special_tokens=False).input_ids) <= 5 and long.startswith(cut)
