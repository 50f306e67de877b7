"""The parameter-count contract: the closed form equals the built model's count exactly."""

import pytest

from runtime.nn import PRESETS, TrmTitansMagForCausalLM, expected_parameters, preset_config
from runtime.nn.param_count import parameters_per_layer


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", ["smoke", "tiny"])
@pytest.mark.parametrize("tied", [True, False])
def test_presets_match_formula(name, tied):
    config = preset_config(name, tie_embeddings=tied)
    assert count(TrmTitansMagForCausalLM(config)) == expected_parameters(config)


def test_full_size_matches_formula_and_is_about_25m():
    config = preset_config("full")
    n = count(TrmTitansMagForCausalLM(config))
    assert n == expected_parameters(config) == expected_parameters(PRESETS["full"] | {"tie_embeddings": True})
    assert 20_000_000 < n < 30_000_000


def test_scale_targets():
    assert 35_000 < expected_parameters(preset_config("smoke")) < 65_000
    assert 800_000 < expected_parameters(preset_config("tiny")) < 1_200_000


@pytest.mark.parametrize(
    "overrides",
    [dict(), dict(n_persistent=0), dict(n_layers=1, d_ff=40), dict(memory_hidden=24, vocab_size=70),
     dict(d_model=48, n_heads=4, tie_embeddings=False)],
)
def test_varied_configs(overrides, small_config):
    config = small_config(**overrides)
    assert count(TrmTitansMagForCausalLM(config)) == expected_parameters(config)


def test_per_layer_breakdown_matches_one_block(small_config):
    config = small_config()
    block = TrmTitansMagForCausalLM(config).stack.layers[0]
    assert count(block) == parameters_per_layer(config.d_model, config.d_ff, config.memory_hidden)


def test_tied_head_shares_storage_and_only_gates_and_halting_have_biases(small_config):
    model = TrmTitansMagForCausalLM(small_config())
    assert model.lm_head.weight is model.embed_tokens.weight
    biased = sorted(n for n, _ in model.named_parameters() if n.endswith("bias"))
    assert biased == ["halt_head.bias"] + [f"stack.layers.{i}.memory.gates.bias" for i in range(2)]
