"""The parameter-count contract: the planner's closed form (forgelang, torch-free) equals the
number of parameters of the model the runtime builds from the same config."""

import pytest

from forgelang.kinds.cognate_arch import TrmTitansMagArch, count_parameters, layer_parameters
from runtime.nn import TrmTitansMagConfig, TrmTitansMagForCausalLM, preset_config


def planner_arch(config: TrmTitansMagConfig) -> dict:
    """The architecture fields the planner reads, taken from a runtime config."""
    return {name: getattr(config, name) for name in TrmTitansMagArch.model_fields
            if name != "type"}


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def assert_formula_matches(config: TrmTitansMagConfig) -> int:
    built = count(TrmTitansMagForCausalLM(config))
    assert built == count_parameters(planner_arch(config))
    return built


@pytest.mark.parametrize("name", ["smoke", "tiny"])  # the recipes' architectures
@pytest.mark.parametrize("tied", [True, False])
def test_presets_match_formula(name, tied):
    assert_formula_matches(preset_config(name, tie_embeddings=tied))


def test_full_size_matches_formula():
    assert assert_formula_matches(preset_config("full")) == count_parameters("full")


@pytest.mark.parametrize(
    "overrides",
    [{}, {"n_persistent": 0}, {"n_layers": 1, "d_ff": 40},
     {"memory_hidden": 24, "vocab_size": 70}, {"d_model": 48, "n_heads": 4, "tie_embeddings": False}],
)
def test_varied_configs(overrides, small_config):
    assert_formula_matches(small_config(**overrides))


def test_per_layer_breakdown_matches_one_block(small_config):
    config = small_config()
    block = TrmTitansMagForCausalLM(config).stack.layers[0]
    assert count(block) == layer_parameters(planner_arch(config))


def test_tied_head_shares_storage_and_only_gates_and_halting_have_biases(small_config):
    model = TrmTitansMagForCausalLM(small_config())
    assert model.lm_head.weight is model.embed_tokens.weight
    biased = sorted(n for n, _ in model.named_parameters() if n.endswith("bias"))
    assert biased == ["halt_head.bias"] + [f"stack.layers.{i}.memory.gates.bias" for i in range(2)]
