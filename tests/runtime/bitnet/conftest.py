"""Fixtures: one torch thread, and each tiny model kind (Cognate and Llama)."""

from __future__ import annotations

import pytest

from tests.runtime.baking.tiny import MODELS
from tests.torch_threads import one_torch_thread  # noqa: F401  (autouse)


@pytest.fixture(params=sorted(MODELS))
def make_model(request):
    """Factory of one tiny model kind."""
    return MODELS[request.param]
