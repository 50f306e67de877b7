"""``forge_ternary``: BitNet's codes, exact packing, and one loader for every model."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

from runtime.formats.ternary import (
    TernaryLinear,
    pack_trits,
    save_ternary,
    ternarize,
    unpack_trits,
)
from runtime.nn import TrmTitansMagForCausalLM, preset_config
from runtime.phases.toolkit.inputs import load_model


@pytest.mark.parametrize("n", [1, 4, 5, 6, 999, 1000])
def test_pack_then_unpack_is_exact(n):
    codes = torch.randint(-1, 2, (n,), generator=torch.Generator().manual_seed(n)).to(torch.int8)
    packed = pack_trits(codes)
    assert packed.dtype == torch.uint8 and packed.numel() <= math.ceil(n / 5)  # 1.6 bits each
    assert torch.equal(unpack_trits(packed, n), codes)


def test_absmean_codes_are_ternary_with_about_31_percent_zeros_on_gaussian_weights():
    weight = torch.randn(256, 256, generator=torch.Generator().manual_seed(0))
    codes, gamma = ternarize(weight)
    assert set(codes.unique().tolist()) <= {-1, 0, 1}
    assert gamma == pytest.approx(weight.abs().mean().item())
    zeros = (codes == 0).float().mean().item()
    assert zeros == pytest.approx(0.31, abs=0.02)  # P(|Z| < 0.5 E|Z|) for a Gaussian


def _cognate():
    torch.manual_seed(0)
    return TrmTitansMagForCausalLM(preset_config("smoke")).eval()


def _llama():
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return LlamaForCausalLM(config).eval()


@pytest.mark.parametrize("make", [_cognate, _llama], ids=["cognate", "llama"])
def test_a_ternary_directory_loads_through_the_one_loader(tmp_path, make):
    model = make()
    dense_dir = tmp_path / "dense"
    model.save_pretrained(dense_dir)
    save_ternary(model, None, tmp_path / "ternary")
    ids = torch.randint(4, 60, (2, 10), generator=torch.Generator().manual_seed(1))
    expected = model(input_ids=ids).logits  # the converted model in memory
    for loaded in (AutoModelForCausalLM.from_pretrained(tmp_path / "ternary"),
                   load_model(tmp_path / "ternary", "cpu")):
        converted = [m for m in loaded.modules() if isinstance(m, TernaryLinear)]
        assert converted and len(converted) == sum(isinstance(m, TernaryLinear)
                                                   for m in model.modules())
        assert torch.equal(loaded.eval()(input_ids=ids).logits, expected)
    dense = (dense_dir / "model.safetensors").stat().st_size
    assert (tmp_path / "ternary" / "model.safetensors").stat().st_size < dense / 2.5


def test_converted_weights_are_gamma_times_codes():
    linear = torch.nn.Linear(7, 3)
    ternary = TernaryLinear.from_linear(linear)
    codes, gamma = ternarize(linear.weight)
    assert torch.equal(ternary.weight, codes.float() * gamma)
    assert torch.equal(ternary.bias, linear.bias)


@pytest.mark.parametrize("modules", [5, "abc", ["model.nope.q_proj"], "extra"])
def test_a_config_that_does_not_fit_the_weights_is_refused(tmp_path, modules):
    import json

    model = _llama()
    save_ternary(model, None, tmp_path / "t")
    path = tmp_path / "t" / "config.json"
    config = json.loads(path.read_text())
    if modules == "extra":  # a layer the weights hold dense, listed as ternary
        modules = config["quantization_config"]["modules"] + ["lm_head"]
    config["quantization_config"]["modules"] = modules
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="forge_ternary|not a module"):
        AutoModelForCausalLM.from_pretrained(tmp_path / "t")


@pytest.mark.parametrize("make", [_cognate, _llama], ids=["cognate", "llama"])
def test_stored_activation_bits_quantise_every_ternary_layers_input_after_loading(tmp_path, make):
    from runtime.bitnet.quantizers import quantize_activations

    model = make()
    plain = make()
    save_ternary(plain, None, tmp_path / "plain")
    save_ternary(model, None, tmp_path / "a4", activation_bits=4)
    ids = torch.randint(4, 60, (2, 10), generator=torch.Generator().manual_seed(2))
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "a4").eval()
    assert loaded.config.quantization_config.activation_bits == 4
    assert torch.equal(loaded(input_ids=ids).logits, model(input_ids=ids).logits)
    assert not torch.equal(loaded(input_ids=ids).logits, plain(input_ids=ids).logits)
    layer = next(m for m in loaded.modules() if isinstance(m, TernaryLinear))
    x = torch.randn(3, layer.in_features)
    expected = torch.nn.functional.linear(quantize_activations(x, 4), layer.weight, layer.bias)
    assert torch.equal(layer(x), expected)


@pytest.mark.parametrize("bits", [1, 17, True, "8", 8.0])
def test_activation_bits_out_of_range_are_refused(tmp_path, bits):
    import json

    save_ternary(_llama(), None, tmp_path / "t", activation_bits=8)
    path = tmp_path / "t" / "config.json"
    config = json.loads(path.read_text())
    config["quantization_config"]["activation_bits"] = bits
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="activation_bits"):
        AutoModelForCausalLM.from_pretrained(tmp_path / "t")


def test_a_truncated_packed_file_is_refused_naming_the_directory(tmp_path):
    save_ternary(_llama(), None, tmp_path / "t")
    weights = tmp_path / "t" / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:-100])
    with pytest.raises(ValueError, match=f"{tmp_path / 't'}: the model does not load"):
        load_model(tmp_path / "t", "cpu")
