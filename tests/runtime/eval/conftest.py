"""Fixtures for the evaluation tests: a suite tokenizer, tiny random Llamas and test-only
stand-ins for a causal LM (scripted generate(), uniform logits)."""

import pytest
import torch
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM

from runtime.data import Example, build_tokenizer, format_example
from runtime.data.tokens import EOS, RESULT_CLOSE, RESULT_OPEN, SEP
from tests.torch_threads import one_torch_thread  # noqa: F401  (autouse)


@pytest.fixture(scope="session")
def tokenizer():
    """A 128-token char-alphabet tokenizer built from the suite (seed 0)."""
    return build_tokenizer(128, seed=0)


@pytest.fixture
def tiny_llama(tokenizer):
    """Factory: a randomly initialised Llama built from a config (nothing downloaded)."""

    def build(hidden: int = 32, layers: int = 1, seed: int = 0) -> LlamaForCausalLM:
        config = LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
            num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=4,
            max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
        torch.manual_seed(seed)
        return LlamaForCausalLM(config)

    return build


class ScriptedModel(nn.Module):
    """generate() writes ``reply(text_so_far)``, obeying max_new_tokens and stop ids."""

    def __init__(self, tokenizer, reply) -> None:
        super().__init__()
        self.tokenizer, self.reply = tokenizer, reply
        self.calls = 0

    def generate(self, input_ids, attention_mask, max_new_tokens, do_sample, eos_token_id,
                 pad_token_id):
        assert do_sample is False and attention_mask.all()
        self.calls += 1
        rows = []
        for row in input_ids.tolist():
            text = self.tokenizer.decode(row, skip_special_tokens=False)
            new = self.tokenizer(self.reply(text), add_special_tokens=False)["input_ids"]
            new = new[:max_new_tokens]
            rows.append(row + new + [pad_token_id] * (max_new_tokens - len(new)))
        return torch.tensor(rows)


def oracle_reply(examples: list[Example]):
    """Replies of a perfect model: tool call for tool use, then the calculator's result."""
    by_prompt = {format_example(e)[0]: e for e in examples}

    def reply(text: str) -> str:
        if text.endswith(RESULT_CLOSE):  # echo what the runtime's calculator inserted
            return text[text.rindex(RESULT_OPEN) + len(RESULT_OPEN): -len(RESULT_CLOSE)] + EOS
        example = by_prompt[text[text.index(">") + 1:]]  # drop <|bos|>
        assert text.endswith(SEP)
        call = example.meta.get("tool_call")
        return f"<|tool|>{call}<|/tool|>" if call else example.answer + EOS

    return reply


class UniformModel(nn.Module):
    """Equal logits over ``vocab_size`` tokens at every position."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size

    def forward(self, input_ids, attention_mask=None):
        logits = torch.zeros(*input_ids.shape, self.vocab_size)  # (B, T, V)
        return type("Output", (), {"logits": logits})()


@pytest.fixture(name="scripted_model")
def scripted_model_fixture(tokenizer):
    """Factory: ``scripted_model(reply)`` -> a ScriptedModel on the suite tokenizer."""
    return lambda reply: ScriptedModel(tokenizer, reply)


@pytest.fixture(name="oracle_reply")
def oracle_reply_fixture():
    """The ``oracle_reply(examples)`` factory of perfect replies."""
    return oracle_reply


@pytest.fixture(name="uniform_model")
def uniform_model_fixture():
    """The ``UniformModel(vocab_size)`` class."""
    return UniformModel
