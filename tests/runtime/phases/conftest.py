"""Fixtures every kernel test shares: one torch thread (tiny models run fastest on one),
and the two input models each kernel is tested on (``source``: Cognate and a Llama
``dir:`` model, built once per module)."""

from __future__ import annotations

import pytest
import torch

from runtime.kernels import InputModel
from tests.runtime.phases.kernel_inputs import INPUTS


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module", params=["cognate", "llama"])
def source(request, tmp_path_factory) -> InputModel:
    return INPUTS[request.param](tmp_path_factory.mktemp(request.param))
