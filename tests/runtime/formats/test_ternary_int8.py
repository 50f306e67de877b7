"""The integer kernels of ``TernaryLinear`` (int8, float_codes): integer sums exact, the two
equal to the bit, outputs equal to the dequantised reference within float32 rounding,
fallbacks where they would not be exact."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

from runtime.bitnet.quantizers import quantize_activations
from runtime.formats import ternary_int8
from runtime.formats.ternary import (
    INT8_MIN_WEIGHTS,
    TernaryLinear,
    convert,
    save_ternary,
    use_kernel,
)

pytestmark = pytest.mark.skipif(not ternary_int8.available(),
                                reason="this PyTorch has no quantized CPU linear")
TOLERANCE = 1e-5  # of the output's largest magnitude: float32 rounding of the reference


def _layer(in_features, out_features, bits, bias=True, seed=0, kernel="int8"):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(in_features, out_features, bias=bias))
    convert(model, ["0"], activation_bits=bits)
    use_kernel(model, kernel)
    return model[0]


@pytest.mark.parametrize(("shape", "bits"), [((1, 7), 8), ((3, 5, 64), 8), ((2, 33), 4),
                                             ((1, 1, 512), 8), ((4, 300), 2)])
def test_int8_outputs_equal_the_dequantised_reference(shape, bits):
    layer = _layer(shape[-1], 48, bits)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1)) * 3
    reference = torch.nn.functional.linear(quantize_activations(x, bits), layer.weight,
                                           layer.bias)
    with torch.no_grad():
        out = layer(x)
    assert out.shape == reference.shape and out.dtype == x.dtype
    assert (out - reference).abs().max() <= TOLERANCE * reference.abs().max()


def test_the_integer_sums_are_exact():
    layer = _layer(1000, 64, 8, bias=False)
    x = torch.randn(5, 1000, generator=torch.Generator().manual_seed(2))
    step = 127 / x.abs().amax(-1, keepdim=True)
    q = torch.round(x * step)
    exact = q.double() @ layer.unpacked_codes().double().t()
    weights = ternary_int8.Int8Weights(layer.unpacked_codes(), torch.tensor(1.0), 8)
    got = ternary_int8.int8_linear(x, weights, None) * step
    assert torch.allclose(got.double(), exact, rtol=0, atol=1e-3 * exact.abs().max())


def test_recording_gradients_uses_the_dense_reference():
    layer = _layer(16, 8, 8)
    x = torch.randn(2, 16, generator=torch.Generator().manual_seed(3))
    reference = torch.nn.functional.linear(quantize_activations(x, 8), layer.weight, layer.bias)
    assert layer.integer_kernel(x) is None
    assert torch.equal(layer(x), reference)  # gradients on: dense


def test_activations_wider_than_8_bits_run_float_codes_and_too_wide_sums_dense():
    x = torch.randn(2, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        layer = _layer(16, 8, 12)  # kernel int8: 12 bits do not fit uint8
        assert layer.integer_kernel(x) == "float_codes"
        reference = torch.nn.functional.linear(quantize_activations(x, 12), layer.weight,
                                               layer.bias)
        assert (layer(x) - reference).abs().max() <= TOLERANCE * reference.abs().max()
        wide = torch.randn(1, 1024)
        assert _layer(1024, 4, 16).integer_kernel(wide) is None  # 32767 * 1024 >= 2^24


@pytest.mark.parametrize(("shape", "bits", "bias"), [((3, 5, 64), 8, True), ((1, 512), 8, False),
                                                     ((4, 300), 4, True), ((7, 40), 2, False)])
def test_int8_and_float_codes_agree_to_the_bit(shape, bits, bias):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(6)) * 2
    outs = []
    for kernel in ("int8", "float_codes"):
        layer = _layer(shape[-1], 96, bits, bias=bias, kernel=kernel)
        with torch.no_grad():
            assert layer.integer_kernel(x) == kernel
            outs.append(layer(x))
    assert torch.equal(*outs)


def test_an_input_read_again_after_an_in_place_change_is_quantised_again():
    first, second = _layer(32, 8, 8, seed=0), _layer(32, 8, 8, seed=1)
    x = torch.randn(3, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        first(x)
        x.mul_(-2)
        out = second(x)
    reference = torch.nn.functional.linear(quantize_activations(x, 8), second.weight,
                                           second.bias)
    assert (out - reference).abs().max() <= TOLERANCE * reference.abs().max()


@pytest.mark.parametrize("kernel", ["int8", "dense"])
def test_inference_mode_inputs_and_layers_work(kernel):
    x = torch.randn(2, 64, generator=torch.Generator().manual_seed(5))
    layer = _layer(64, 16, 8, kernel=kernel)
    reference = torch.nn.functional.linear(quantize_activations(x, 8), layer.weight, layer.bias)
    with torch.inference_mode():
        made_inside = _layer(64, 16, 8, kernel=kernel)
        first, again = layer(x.clone()), made_inside(x.clone())
    assert (first - reference).abs().max() <= TOLERANCE * reference.abs().max()
    assert torch.equal(first, again)


@pytest.mark.parametrize("kernel", ["int8", "float_codes"])
def test_the_integer_weights_follow_the_codes(kernel):
    layer = _layer(20, 6, 8)
    first = layer.integer_weights(kernel)
    assert layer.integer_weights(kernel) is first
    layer.codes.copy_(torch.flip(layer.codes, [0]))
    assert layer.integer_weights(kernel) is not first


def test_greedy_generation_is_the_same_with_either_kernel(tmp_path):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=64, initializer_range=0.2)
    save_ternary(LlamaForCausalLM(config), None, tmp_path / "t", activation_bits=8)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "t").eval()
    assert any(isinstance(m, TernaryLinear) for m in model.modules())
    ids = torch.tensor([[1, 5, 9, 13]])
    runs = {}
    for kernel in ("dense", "int8", "float_codes"):
        use_kernel(model, kernel)
        with torch.no_grad():
            logits = model(input_ids=ids).logits
        runs[kernel] = (logits, model.generate(input_ids=ids, max_new_tokens=12,
                                               do_sample=False, pad_token_id=0))
    (dense_logits, dense_ids), (int8_logits, int8_ids) = runs["dense"], runs["int8"]
    assert not torch.equal(dense_logits, int8_logits)  # the two kernels did run
    assert torch.equal(runs["float_codes"][0], int8_logits)
    assert torch.allclose(dense_logits, int8_logits, rtol=0,
                          atol=1e-4 * dense_logits.abs().max())
    assert torch.equal(dense_ids, int8_ids)


def test_auto_uses_int8_on_large_matrices_and_float_codes_on_small_ones(monkeypatch):
    calls = []
    for name in ("int8_linear", "float_codes_linear"):
        monkeypatch.setattr(ternary_int8, name, lambda *a, name=name,
                            real=getattr(ternary_int8, name): calls.append(name) or real(*a))
    small, large = _layer(64, 64, 8, kernel="auto"), _layer(512, 256, 8, kernel="auto")
    with torch.no_grad():
        small(torch.randn(1, 64))
        large(torch.randn(1, 512))
    assert calls == ["float_codes_linear", "int8_linear"]
    assert 512 * 256 >= INT8_MIN_WEIGHTS > 64 * 64


def test_an_unknown_kernel_is_refused():
    with pytest.raises(ValueError, match="kernel"):
        use_kernel(torch.nn.Sequential(), "int4")
