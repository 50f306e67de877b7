"""attach_bitlinear: ternary weights wherever weights are read, quantised inputs where a
module is called, latent weights trained, and detach leaves the model as it was shaped."""

from __future__ import annotations

import torch
from torch import nn

from runtime.bitnet.bitlinear import attach_bitlinear
from runtime.bitnet.quantizers import quantize_activations, ternary_weight
from runtime.formats.ternary import default_modules

IDS = torch.tensor([[1, 60, 61, 62, 13, 70, 71, 72, 73, 74, 75, 76, 77, 78, 10]])  # (1, 15)


def test_a_linear_computes_with_quantised_input_and_ternary_weight():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4))
    latent = model[0].weight.detach().clone()
    attach_bitlinear(model, ["0"], activation_bits=8)
    x = torch.randn(3, 16)
    expected = nn.functional.linear(quantize_activations(x, 8), ternary_weight(latent),
                                    model[0].bias)
    assert torch.allclose(model[0](x), expected, atol=1e-6)
    assert torch.equal(model[0].parametrizations.weight.original, latent)  # latent kept


def test_every_weight_read_is_ternary_and_training_moves_the_latent_weights(make_model):
    model = make_model()
    names = default_modules(model)
    handle = attach_bitlinear(model, names, activation_bits=8)
    for name in names:
        weight = model.get_submodule(name).weight
        gamma = weight.abs().max()
        assert set(torch.unique(torch.round(weight / gamma)).tolist()) <= {-1.0, 0.0, 1.0}
    latent = {n: model.get_submodule(n).parametrizations.weight.original.detach().clone()
              for n in names}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(input_ids=IDS, labels=IDS).loss.backward()
    optimizer.step()
    moved = [n for n in names
             if not torch.equal(model.get_submodule(n).parametrizations.weight.original, latent[n])]
    assert moved == names  # the STE reaches every latent matrix, fused reads included
    handle.reset_calls()
    model(input_ids=IDS)
    if type(model).__name__ == "LlamaForCausalLM":
        assert handle.unhooked() == []
    else:  # Cognate's fused reads apply the group's first quantiser (q_proj's, gate_proj's)
        # to the shared input: only the later members' own quantisers do not run
        later = ("mlp.up_proj", "memory.key_proj", "memory.value_proj", "memory.query_proj",
                 "memory.gates")
        assert handle.unhooked() == sorted(n for n in names if n.endswith(later))


def test_detach_keeps_the_latent_weights_in_their_places(make_model):
    model = make_model()
    order = [n for n, _ in model.named_parameters()]
    names = default_modules(model)
    handle = attach_bitlinear(model, names, activation_bits=8)
    latent = {n: model.get_submodule(n).parametrizations.weight.original.detach().clone()
              for n in names}
    handle.detach()
    assert [n for n, _ in model.named_parameters()] == order
    assert not any(hasattr(model.get_submodule(n), "input_quantizer") for n in names)
    assert all(torch.equal(model.get_submodule(n).weight, latent[n]) for n in names)
    assert all(type(model.get_submodule(n)) is nn.Linear for n in names)
    out = model(input_ids=IDS).logits
    assert torch.isfinite(out).all()
