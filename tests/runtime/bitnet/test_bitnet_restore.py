"""A ternary model made float (``to_float``) and stored again keeps its scales, and trains.

Re-storing with the absmean quantiser alone shrank every scale to gamma x (share of nonzero
codes) at each phase after bitnet; the float model's input quantiser cut the gradients of
every layer whose output does not join the residual stream (fused q/k/v, memory, gate/up).
"""

from __future__ import annotations

import torch
from safetensors.torch import load_file
from torch import nn
from transformers import AutoModelForCausalLM

import runtime  # noqa: F401  (registers forge_ternary)
from runtime.baking.lora import attach_adapters, merge_adapters
from runtime.bitnet import attach_bitlinear, save_model, to_float
from runtime.bitnet.trainable import requantised
from runtime.formats.ternary import save_ternary

IDS = torch.randint(4, 100, (2, 12), generator=torch.Generator().manual_seed(3))


def _stored(make_model, tmp_path):
    """A ternary directory of a tiny model (8-bit activations), and the model loaded."""
    save_ternary(make_model(), None, tmp_path / "ternary", activation_bits=8)
    return tmp_path / "ternary", AutoModelForCausalLM.from_pretrained(tmp_path / "ternary").eval()


def _ternary_tensors(path) -> dict[str, torch.Tensor]:
    weights = load_file(str(path / "model.safetensors"))
    return {k: v for k, v in weights.items() if k.endswith((".codes", ".scale"))}


def _ternary_linear(gamma: float = 0.3) -> tuple[nn.Linear, torch.Tensor]:
    codes = torch.randint(-1, 2, (16, 24), generator=torch.Generator().manual_seed(1))
    linear = nn.Linear(24, 16, bias=False)
    with torch.no_grad():
        linear.weight.copy_(codes.float() * gamma)
    return linear, codes.to(torch.int8)


def test_a_ternary_valued_weight_keeps_its_scale_not_gamma_times_the_share():
    linear, codes = _ternary_linear()
    stored = requantised(linear)
    assert torch.equal(stored.codes, codes)
    assert stored.scale.item() == torch.tensor(0.3).item()  # absmean: 0.3 x share (~2/3)


def test_a_slightly_changed_weight_keeps_its_codes_and_about_its_scale():
    linear, codes = _ternary_linear()
    noise = torch.randn(16, 24, generator=torch.Generator().manual_seed(2)) * 0.003
    with torch.no_grad():
        linear.weight.add_(noise)
    stored = requantised(linear)
    assert torch.equal(stored.codes, codes)
    assert abs(stored.scale.item() - 0.3) < 0.003
    share = codes.count_nonzero().item() / codes.numel()
    assert abs(linear.weight.abs().mean().item() - 0.3 * share) < 0.003  # what absmean gives


def test_unchanged_merged_or_nudged_layers_are_stored_with_the_input_codes_and_scales(
        make_model, tmp_path):
    first, model = _stored(make_model, tmp_path)
    before = _ternary_tensors(first)
    form = to_float(model)
    merge_adapters(attach_adapters(model, 2, seed=0))  # B = 0: an adapter that learned nothing
    exact = _ternary_tensors(save_model(model, None, tmp_path / "merged", form))
    assert all(torch.equal(before[k], exact[k]) for k in before)  # codes and scales, bit for bit
    _, model = _stored(make_model, tmp_path)
    form = to_float(model)
    with torch.no_grad():  # float rounding, e.g. an SVF reconstruction U diag(s) V^T of W
        for name in form.modules:
            weight = model.get_submodule(name).weight
            weight.mul_(1 + 1e-6 * torch.randn(weight.shape, generator=torch.Generator()))
    nudged = _ternary_tensors(save_model(model, None, tmp_path / "nudged", form))
    assert all(torch.equal(before[k], nudged[k]) for k in before if k.endswith(".codes"))
    assert all(torch.allclose(before[k], nudged[k], rtol=1e-5) for k in before)


def test_the_ste_starts_from_exactly_the_stored_function_and_untrained_stores_it_again(
        make_model, tmp_path):
    first, model = _stored(make_model, tmp_path)
    expected = model(input_ids=IDS).logits
    form = to_float(model)
    handle = attach_bitlinear(model, form.modules, form.activation_bits)
    assert torch.equal(model(input_ids=IDS).logits, expected)  # step 0 of STE training
    handle.detach()
    assert torch.equal(model(input_ids=IDS).logits, expected)
    again = _ternary_tensors(save_model(model, None, tmp_path / "again", form))
    before = _ternary_tensors(first)
    assert all(torch.equal(before[k], again[k]) for k in before)


def test_every_adapter_trains_on_a_model_made_float(make_model, tmp_path):
    _, model = _stored(make_model, tmp_path)
    form = to_float(model)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    adapters = attach_adapters(model, 4, seed=0)
    assert set(form.modules) <= set(adapters.deltas)
    model.train()
    model(input_ids=IDS, labels=IDS).loss.backward()  # 12 tokens: the memory writes (chunk 8)
    silent = [n for n, d in adapters.deltas.items()
              if d.lora_b.grad is None or not bool(d.lora_b.grad.abs().sum() > 0)]
    assert silent == []
