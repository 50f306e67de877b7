"""Fixtures: one thread, the suite's char tokenizer, each tiny model kind (see tiny.py)."""

from __future__ import annotations

import pytest
import torch

from tests.runtime.baking.tiny import MODELS


@pytest.fixture(autouse=True)
def _one_thread():
    """Tests share two cores with other work: one thread each, and fast."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tokenizer():
    """The suite's char-level tokenizer (108 tokens)."""
    from runtime.data import build_tokenizer

    return build_tokenizer(108, 0, corpus_examples=200)


@pytest.fixture(params=sorted(MODELS))
def make_model(request):
    """Factory of one tiny model kind (each test runs for Cognate and for Llama)."""
    return MODELS[request.param]
