"""Fixtures for the Cognate model tests: tiny configs that run in milliseconds on CPU."""

import pytest
import torch

from runtime.nn import TrmTitansMagConfig, TrmTitansMagForCausalLM


def small_config(**overrides) -> TrmTitansMagConfig:
    """A ~20k-parameter config with short window and chunk so both matter at T = 16."""
    fields = dict(
        vocab_size=64, d_model=32, n_layers=2, n_heads=2, d_ff=64, window=4, n_persistent=3,
        memory_hidden=16, memory_chunk=4, n_latent_steps=2, n_cycles=2, supervision_steps=2,
        max_seq_len=64,
    )
    fields.update(overrides)
    return TrmTitansMagConfig(**fields)


@pytest.fixture(name="small_config")
def small_config_fixture():
    """The ``small_config`` factory."""
    return small_config


@pytest.fixture
def make_model():
    """Factory: a seeded model in eval mode built from ``small_config(**overrides)``."""

    def build(seed: int = 0, **overrides) -> TrmTitansMagForCausalLM:
        torch.manual_seed(seed)
        return TrmTitansMagForCausalLM(small_config(**overrides)).eval()

    return build
