"""LoRA parametrizations: invisible until trained, seen by fused weight reads, merged exactly."""

from __future__ import annotations

import torch
from torch import nn

from runtime.baking.lora import attach_adapters, detach_adapters, merge_adapters, target_linears
from tests.runtime.baking.tiny import cognate

IDS = torch.tensor([[1, 60, 61, 62, 13, 70, 71, 72, 73, 74, 75, 76, 77, 78, 10]])  # (1, 15)


def _logits(model) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=IDS).logits  # (1, T, V)


def _randomise(adapters, seed: int = 1) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for delta in adapters.deltas.values():
            delta.lora_b.copy_(torch.randn(delta.lora_b.shape, generator=generator) * 0.1)


def test_targets_every_linear_but_the_output_head():
    names = set(target_linears(cognate()))
    assert "lm_head" not in names
    for part in ("attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.o_proj", "mlp.gate_proj",
                 "mlp.up_proj", "mlp.down_proj", "mag_gate", "memory.query_proj",
                 "memory.key_proj", "memory.value_proj", "memory.gates"):
        assert f"stack.layers.0.{part}" in names


def test_attached_untrained_adapters_change_no_logit(make_model):
    model = make_model().eval()
    before = _logits(model)
    attach_adapters(model, 4, seed=0)
    assert torch.equal(_logits(model), before)


def test_fused_weight_reads_see_the_adapters():
    """The Cognate model concatenates q/k/v (and memory, gate/up) weights itself: an
    adapter on q_proj alone must still change the logits."""
    model = cognate().eval()
    before = _logits(model)
    adapters = attach_adapters(model, 4, seed=0)
    with torch.no_grad():
        adapters.deltas["stack.layers.0.attn.q_proj"].lora_b.fill_(0.5)
    assert not torch.allclose(_logits(model), before)


def test_merge_gives_the_adapted_function_with_plain_weights(make_model):
    model = make_model().eval()
    adapters = attach_adapters(model, 4, seed=0)
    _randomise(adapters)
    adapted = _logits(model)
    merge_adapters(adapters, 1.0)
    assert torch.allclose(_logits(model), adapted, atol=1e-5)
    assert all(type(m) is nn.Linear for m in model.modules() if isinstance(m, nn.Linear))
    assert not any("lora" in k or "parametrizations" in k for k in model.state_dict())


def test_half_strength_merges_exactly_half_the_delta():
    full, half = cognate(), cognate()
    base = {k: v.clone() for k, v in full.state_dict().items()}
    deltas = {}
    for model, strength in ((full, 1.0), (half, 0.5)):
        adapters = attach_adapters(model, 4, seed=0)
        _randomise(adapters)
        deltas[strength] = {n: d.delta().detach() * strength for n, d in adapters.deltas.items()}
        merge_adapters(adapters, strength)
    for name in deltas[1.0]:
        assert torch.equal(deltas[0.5][name], deltas[1.0][name] / 2)
        key = f"{name}.weight"
        assert torch.equal(half.state_dict()[key], base[key] + deltas[0.5][name])
        assert torch.equal(full.state_dict()[key], base[key] + deltas[1.0][name])


def test_detach_restores_the_original_weights(make_model):
    model = make_model().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    adapters = attach_adapters(model, 4, seed=0)
    _randomise(adapters)
    detach_adapters(adapters)
    after = model.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], v) for k, v in before.items())


def test_merge_and_detach_keep_the_parameters_in_their_order():
    """A baked model trains exactly like its weights loaded from a checkpoint: optimisers
    and gradient clipping walk the parameters in registration order."""
    model = cognate()
    model.halt_head = nn.Linear(32, 1)  # a biased linear: removal would put weight last
    order = [name for name, _ in model.named_parameters()]
    for finish in (merge_adapters, detach_adapters):
        adapters = attach_adapters(model, 4, seed=0)
        finish(adapters)
        assert [name for name, _ in model.named_parameters()] == order
