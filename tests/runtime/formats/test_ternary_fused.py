"""The Cognate model's fused reads of ternary layers run as one int8 matmul
(``runtime.formats.ternary_fused``), equal to the dequantised reference within float32
rounding; the float model's fused reads stay the concatenation of the weights."""

from __future__ import annotations

import pytest
import torch

from runtime.bitnet.quantizers import quantize_activations
from runtime.formats import ternary_int8
from runtime.formats.ternary import TernaryLinear, convert, default_modules, use_kernel
from runtime.formats.ternary_fused import FusedTernary
from runtime.nn.inputs import fused_linear, fused_weight
from tests.runtime.baking.tiny import cognate

pytestmark = pytest.mark.skipif(not ternary_int8.available(),
                                reason="this PyTorch has no quantized CPU linear")
TOLERANCE = 1e-5  # of the output's largest magnitude, as test_ternary_int8.py


def _ternary_layers(widths, in_features=40, bits=8, seed=0, kernel="int8"):
    """Ternary layers of one input width, each with its own gamma."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(*[torch.nn.Linear(in_features, n, bias=False) for n in widths])
    for i, layer in enumerate(model):
        layer.weight.data.mul_(i + 1)  # distinct gammas: the per-row scales matter
    convert(model, [str(i) for i in range(len(widths))], activation_bits=bits)
    use_kernel(model, kernel)
    return list(model)


@pytest.mark.parametrize("kernel", ["int8", "float_codes"])
@pytest.mark.parametrize("rows", [None, 24, 30])  # all rows, the first layer, the first two
def test_a_fused_group_equals_the_concatenated_dequantised_weights(rows, kernel):
    layers = _ternary_layers([24, 6, 9], kernel=kernel)
    x = torch.randn(2, 5, 40, generator=torch.Generator().manual_seed(1)) * 3
    weight = torch.cat([layer.weight for layer in layers])
    reference = torch.nn.functional.linear(quantize_activations(x, 8),
                                           weight if rows is None else weight[:rows])
    with torch.no_grad():
        group = fused_weight(layers)
        out = fused_linear(layers[0], x, group, rows)
    assert isinstance(group, FusedTernary)
    assert out.shape == reference.shape
    assert not torch.equal(out, reference)  # the int8 kernel ran, not the reference
    assert (out - reference).abs().max() <= TOLERANCE * reference.abs().max()


def test_a_fused_group_gives_each_layers_own_outputs_with_either_kernel():
    x = torch.randn(4, 40, generator=torch.Generator().manual_seed(7))
    outs = {}
    for kernel in ("int8", "float_codes"):
        layers = _ternary_layers([16, 8], kernel=kernel)
        with torch.no_grad():
            outs[kernel] = fused_weight(layers)(x)
            alone = torch.cat([layer(x) for layer in layers], dim=-1)  # each layer's own call
        assert torch.equal(outs[kernel], alone)
    assert torch.equal(outs["int8"], outs["float_codes"])


def test_recording_gradients_or_mixed_layers_keep_the_concatenation():
    layers = _ternary_layers([8, 8])
    assert isinstance(fused_weight(layers), torch.Tensor)  # gradients on
    with torch.no_grad():
        assert isinstance(fused_weight([layers[0], torch.nn.Linear(40, 8)]), torch.Tensor)
        use_kernel(torch.nn.Sequential(*layers), "dense")
        assert isinstance(fused_weight(layers), torch.Tensor)


def test_a_fused_group_follows_its_layers_codes():
    layers = _ternary_layers([8, 8])
    x = torch.randn(3, 40, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        group = fused_weight(layers)
        before = group(x)
        layers[1].scale.mul_(2)
        assert fused_weight(layers) is group
        after = group(x)
    assert torch.equal(after[:, :8], before[:, :8])
    assert torch.allclose(after[:, 8:], 2 * before[:, 8:], rtol=1e-6)


def test_float_fused_reads_are_the_concatenation():
    layers = [torch.nn.Linear(6, n, bias=False) for n in (4, 5)]
    x = torch.randn(2, 6)
    fused = fused_weight(layers)
    assert torch.equal(fused, torch.cat([layers[0].weight, layers[1].weight]))
    assert torch.equal(fused_linear(layers[0], x, fused, 4), layers[0](x))


def _ternary_cognate(kernel="dense"):
    model = cognate().eval()
    convert(model, default_modules(model), activation_bits=8)
    use_kernel(model, kernel)
    return model


@pytest.mark.parametrize("kernel", ["int8", "float_codes", "auto"])
def test_every_ternary_matmul_of_the_cognate_model_runs_an_integer_kernel(monkeypatch, kernel):
    """With an integer kernel no dequantised matrix is ever read: not by module calls, not
    by the fused reads (their groups)."""
    ids = torch.randint(3, 108, (2, 20), generator=torch.Generator().manual_seed(3))
    model = _ternary_cognate()
    with torch.no_grad():
        reference = model(input_ids=ids).logits
    use_kernel(model, kernel)

    def no_dense(self):
        raise AssertionError("a dequantised ternary matrix was read")

    monkeypatch.setattr(TernaryLinear, "weight", property(no_dense))
    with torch.no_grad():
        logits = model(input_ids=ids).logits  # 20 tokens: the memory writes (chunk 8)
    assert not torch.equal(logits, reference)
    assert torch.allclose(logits, reference, rtol=0, atol=1e-4 * reference.abs().max())


def test_greedy_generation_of_the_cognate_model_is_the_same_with_every_kernel():
    model = _ternary_cognate()
    ids = torch.tensor([[5, 9, 13, 17]])
    runs = {}
    for kernel in ("dense", "int8", "float_codes"):
        use_kernel(model, kernel)
        with torch.no_grad():
            runs[kernel] = model.generate(input_ids=ids, max_new_tokens=12, do_sample=False,
                                          pad_token_id=0)
    assert torch.equal(runs["dense"], runs["int8"])
    assert torch.equal(runs["dense"], runs["float_codes"])
