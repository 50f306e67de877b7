"""Fixtures: one thread, the suite's char tokenizer, each tiny model kind, mixing heads.

Every test that runs a model takes ``model`` (or ``make_model``), so it runs for the
Cognate model and for Llama (see tests/runtime/baking/tiny.py).
"""

from __future__ import annotations

import pytest
import torch

from runtime.thoughts.head import MixingHead
from runtime.thoughts.tokens import thought_tokens
from tests.runtime.baking.tiny import MODELS
from tests.torch_threads import one_torch_thread  # noqa: F401  (autouse)

THOUGHT_LENGTH = 3
TEXTS = ("12+30=42", "7*8=")  # 9 and 5 tokens: rows of different lengths


@pytest.fixture(scope="session")
def tokenizer():
    """The suite's char-level tokenizer (108 tokens, thought markers included)."""
    from runtime.data import build_tokenizer

    return build_tokenizer(108, 0, corpus_examples=200)


@pytest.fixture(scope="session")
def tokens(tokenizer):
    """The thought tokens of the suite tokenizer, 3 tokens per thought."""
    return thought_tokens(tokenizer, THOUGHT_LENGTH)


@pytest.fixture(params=sorted(MODELS))
def make_model(request):
    """Factory of one tiny model kind (each test runs for Cognate and for Llama)."""
    return MODELS[request.param]


@pytest.fixture
def model(make_model):
    """A tiny model of the parametrised kind, in eval mode (dropout off)."""
    return make_model(0).eval()


@pytest.fixture(scope="session")
def sequences(tokenizer) -> list[list[int]]:
    """Two token sequences of different lengths (9 and 5)."""
    return [tokenizer(text)["input_ids"] for text in TEXTS]


@pytest.fixture
def make_head():
    """``make_head(model, seed)``: a mixing head whose last layer is NOT zero (random)."""

    def make(model, seed: int = 0) -> MixingHead:
        torch.manual_seed(seed)
        head = MixingHead(hidden_size(model), 16)
        with torch.no_grad():
            head.outer.weight.normal_(0.0, 1.0)
            head.outer.bias.fill_(0.3)
        return head

    return make


def hidden_size(model) -> int:
    """Width of the LM head's input (what the mixing head reads)."""
    return model.get_output_embeddings().in_features


@pytest.fixture
def fresh_head(model) -> MixingHead:
    """A mixing head as training starts: last layer zero."""
    torch.manual_seed(0)
    return MixingHead(hidden_size(model), 16)


def padded_ids(sequences, pad_id: int = 0) -> torch.Tensor:
    """``(B, T)`` right-padded ids."""
    ids = torch.full((len(sequences), max(len(s) for s in sequences)), pad_id, dtype=torch.long)
    for b, seq in enumerate(sequences):
        ids[b, : len(seq)] = torch.tensor(seq)
    return ids


@pytest.fixture(scope="session")
def pad():
    """``pad(sequences, pad_id=0)``: right-padded ids ``(B, T)``."""
    return padded_ids
