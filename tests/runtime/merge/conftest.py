"""Fixtures: tiny Llama, GPT-2 and Cognate fine-tunes (see tiny_models.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import GPT2LMHeadModel, LlamaForCausalLM

from runtime.nn import TrmTitansMagForCausalLM, preset_config
from tests.runtime.merge.tiny_models import build, fine_tunes, gpt2_config, llama_config, save_all


@pytest.fixture(scope="module")
def llamas():
    """Three Llama fine-tunes of one seeded base."""
    return fine_tunes(build(LlamaForCausalLM, llama_config(), seed=0), 3)


@pytest.fixture(scope="module")
def gpt2s():
    """Three GPT-2 fine-tunes of one seeded base."""
    return fine_tunes(build(GPT2LMHeadModel, gpt2_config(), seed=1), 3)


@pytest.fixture(scope="module")
def cognates():
    """Two Cognate (smoke preset) fine-tunes of one seeded base."""
    return fine_tunes(build(TrmTitansMagForCausalLM, preset_config("smoke"), seed=2), 2)


@pytest.fixture(scope="module")
def llama_dirs(llamas, tmp_path_factory) -> list[Path]:
    """The Llama fine-tunes saved as Hugging Face directories."""
    return save_all(llamas, tmp_path_factory.mktemp("llama"), "llama")
