"""``runtime.bitnet.trainable``: a stored ternary model made float, trained, stored again."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from transformers import AutoModelForCausalLM

import runtime  # noqa: F401  (registers forge_ternary)
from runtime.bitnet import TernaryForm, attach_bitlinear, save_model, ternary_form, to_float
from runtime.formats.ternary import TernaryLinear, default_modules, save_ternary

IDS = torch.randint(4, 100, (2, 12), generator=torch.Generator().manual_seed(3))


def _stored(make_model, tmp_path, bits=8):
    """A ternary directory of a tiny model, and the model loaded from it."""
    model = make_model()
    save_ternary(model, None, tmp_path / "ternary", activation_bits=bits)
    return tmp_path / "ternary", AutoModelForCausalLM.from_pretrained(tmp_path / "ternary").eval()


def _ternary_tensors(path) -> dict[str, torch.Tensor]:
    weights = load_file(str(path / "model.safetensors"))
    return {k: v for k, v in weights.items() if k.endswith((".codes", ".scale"))}


@pytest.mark.parametrize("bits", [8, None])
def test_saved_loaded_made_float_and_saved_again_keeps_codes_and_scales(make_model, tmp_path,
                                                                          bits):
    first, model = _stored(make_model, tmp_path, bits)
    expected = model(input_ids=IDS).logits
    form = to_float(model)
    assert form == TernaryForm(modules=default_modules(make_model()), activation_bits=bits)
    assert not any(isinstance(m, TernaryLinear) for m in model.modules())
    assert model.hf_quantizer is None
    assert torch.equal(model(input_ids=IDS).logits, expected)  # same function, as float
    second = save_model(model, None, tmp_path / "again", form)
    before, after = _ternary_tensors(first), _ternary_tensors(second)
    assert before.keys() == after.keys() and before
    assert all(torch.equal(before[k], after[k]) for k in before)
    reloaded = AutoModelForCausalLM.from_pretrained(second).eval()
    assert torch.equal(reloaded(input_ids=IDS).logits, expected)


def test_a_float_model_passes_through(make_model, tmp_path):
    model = make_model().eval()
    expected = model(input_ids=IDS).logits
    assert ternary_form(model) is None and to_float(model) is None
    out = save_model(model, None, tmp_path / "float", None)
    assert not any(k.endswith(".codes") for k in load_file(str(out / "model.safetensors")))
    reloaded = AutoModelForCausalLM.from_pretrained(out).eval()
    assert not any(isinstance(m, TernaryLinear) for m in reloaded.modules())
    assert torch.equal(reloaded(input_ids=IDS).logits, expected)


def test_a_ternary_model_saved_without_its_form_is_refused(make_model, tmp_path):
    _, model = _stored(make_model, tmp_path)
    with pytest.raises(ValueError, match="TernaryForm"):
        save_model(model, None, tmp_path / "out", None)


def test_bitlinear_on_the_form_starts_from_the_stored_function_and_trains(make_model, tmp_path):
    first, model = _stored(make_model, tmp_path)
    expected = model(input_ids=IDS).logits
    form = to_float(model)
    handle = attach_bitlinear(model, form.modules, form.activation_bits)
    model.train()
    start = model(input_ids=IDS).logits
    assert torch.allclose(start, expected, atol=1e-4)  # the STE forward is the stored model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(8):
        loss = model(input_ids=IDS, labels=IDS).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    handle.detach()
    detached = model.eval()(input_ids=IDS).logits  # a ternary layer stays ternary
    out = save_model(model, None, tmp_path / "trained", form)
    before, after = _ternary_tensors(first), _ternary_tensors(out)
    assert any(not torch.equal(before[k], after[k]) for k in before)  # training moved codes
    reloaded = AutoModelForCausalLM.from_pretrained(out).eval()
    assert ternary_form(reloaded) == form
    assert torch.equal(reloaded(input_ids=IDS).logits, detached)


def test_attached_and_detached_without_training_a_ternary_model_is_stored_as_it_was(
        make_model, tmp_path):
    first, model = _stored(make_model, tmp_path)
    expected = model(input_ids=IDS).logits
    form = to_float(model)
    attach_bitlinear(model, form.modules, form.activation_bits).detach()
    assert torch.allclose(model(input_ids=IDS).logits, expected, rtol=0, atol=1e-5)
    before = _ternary_tensors(first)
    after = _ternary_tensors(save_model(model, None, tmp_path / "again", form))
    assert all(torch.equal(before[k], after[k]) for k in before if k.endswith(".codes"))
    assert all(torch.allclose(before[k], after[k], rtol=1e-6) for k in before)


def test_a_ternary_valued_weight_is_stored_as_it_is():
    linear = nn.Linear(8, 4, bias=False)
    codes = torch.tensor([[1, 0, -1, 0, 1, 1, 0, -1]] * 4, dtype=torch.int8)
    with torch.no_grad():
        linear.weight.copy_(codes.float() * 0.3)
    layer = TernaryLinear.from_linear(linear)
    assert torch.equal(layer.unpacked_codes(), codes)
    assert layer.scale.item() == pytest.approx(0.3, rel=1e-7)
    assert torch.equal(layer.weight, linear.weight)


def test_detach_gives_the_float_layers_their_own_quantiser_back(make_model, tmp_path):
    _, model = _stored(make_model, tmp_path)
    form = to_float(model)
    quantizers = {n: model.get_submodule(n).input_quantizer for n in form.modules}
    attach_bitlinear(model, form.modules, form.activation_bits).detach()
    assert all(model.get_submodule(n).input_quantizer is q for n, q in quantizers.items())
    hooks = [len(model.get_submodule(n)._forward_pre_hooks) for n in form.modules]
    assert hooks == [1] * len(form.modules)  # the float layer's own, not a second one


def test_a_linear_without_a_source_is_ternarised_by_absmean():
    linear = nn.Linear(6, 4)
    layer = TernaryLinear.from_linear(linear)
    codes = layer.unpacked_codes()
    assert set(codes.unique().tolist()) <= {-1, 0, 1}
    assert layer.scale.item() == pytest.approx(linear.weight.abs().mean().item())
