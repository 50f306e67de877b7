"""Fixtures: one thread, the suite's char tokenizer, each tiny model kind (see tiny.py)."""

from __future__ import annotations

import pytest

from tests.runtime.baking.tiny import MODELS
from tests.torch_threads import one_torch_thread  # noqa: F401  (autouse)


@pytest.fixture(scope="session")
def tokenizer():
    """The suite's char-level tokenizer (108 tokens)."""
    from runtime.data import build_tokenizer

    return build_tokenizer(108, 0, corpus_examples=200)


@pytest.fixture(params=sorted(MODELS))
def make_model(request):
    """Factory of one tiny model kind (each test runs for Cognate and for Llama)."""
    return MODELS[request.param]
