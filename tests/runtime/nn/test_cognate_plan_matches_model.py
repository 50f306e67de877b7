"""`forge plan` reports the parameter count of the model the runtime actually builds."""

from pathlib import Path

import pytest

from forgelang import api

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("recipe", ["smoke.forge", "tiny.forge", "agent-forge-v2.forge"])
def test_planned_params_equal_built_model(recipe):
    import runtime.nn  # noqa: F401  (registers the model with transformers)
    from runtime.nn import TrmTitansMagConfig, TrmTitansMagForCausalLM

    step = api.compile_plan(ROOT / "recipes" / recipe).step("cognate")
    arch = {k: v for k, v in step.params["architecture"].items() if k != "type"}
    model = TrmTitansMagForCausalLM(TrmTitansMagConfig(**arch))
    built = sum(p.numel() for p in model.parameters())
    assert step.estimate.params == built
    if recipe == "agent-forge-v2.forge":
        assert abs(built - 25e6) / 25e6 <= 0.10


@pytest.mark.parametrize(("arch", "length"), [
    ({"extends": "smoke"}, 61),  # two memory chunks, one written
    ({"extends": "tiny"}, 31),  # one chunk: nothing written
    ({"extends": "tiny", "n_layers": 1, "n_cycles": 2}, 70),  # untracked cycle, two writes
    ({"extends": "smoke", "memory_chunk": 8}, 40),  # five writes
])
def test_planned_ops_per_step_match_a_counted_training_step(arch, length):
    """The cost model's tensor-op count of a training step (what the plan's time charges
    per op) is within 25% of the ops a real step dispatches."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    from forgelang.kinds import costs
    from forgelang.kinds.cognate_arch import arch_from
    from runtime.nn import TrmTitansMagConfig, TrmTitansMagForCausalLM
    from runtime.optim import MuGrokfast
    from runtime.training import train_steps

    a = arch_from(arch)
    torch.manual_seed(0)
    model = TrmTitansMagForCausalLM(TrmTitansMagConfig(**a.model_dump(exclude={"type"})))
    optimizer = MuGrokfast.from_config(model, {})
    ids = torch.randint(4, a.vocab_size, (2, length))
    train_steps(model, optimizer, lambda step: (ids, ids), 1)  # optimiser state exists

    class Count(TorchDispatchMode):
        ops = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.ops += 1
            return func(*args, **(kwargs or {}))

    with Count():
        train_steps(model, optimizer, lambda step: (ids, ids), 2, start_step=1)
    planned = costs.cost_of(costs.ModelSpec(params=0, architecture=tuple(
        a.model_dump(mode="json").items()))).train_ops_per_step(length)
    assert planned == pytest.approx(Count.ops, rel=0.25)


@pytest.mark.parametrize(("arch", "batch", "length"), [
    ({"extends": "tiny"}, 8, 32),  # one chunk: nothing written
    ({"extends": "tiny"}, 16, 64),  # two chunks, one written
    ({"extends": "tiny"}, 8, 128),  # four chunks; attention window capped
    ({"extends": "smoke"}, 4, 61),
])
def test_planned_activation_bytes_match_what_a_step_saves(arch, batch, length):
    """The cost model's activation bytes (what the plan's peak memory charges a training
    step) are within 10% of the bytes a real step saves for backward (unique storages)."""
    import torch

    from forgelang.kinds import costs
    from forgelang.kinds.cognate_arch import arch_from, count_parameters
    from runtime.nn import TrmTitansMagConfig, TrmTitansMagForCausalLM

    a = arch_from(arch)
    torch.manual_seed(0)
    model = TrmTitansMagForCausalLM(TrmTitansMagConfig(**a.model_dump(exclude={"type"})))
    ids = torch.randint(4, a.vocab_size, (batch, length))
    saved: dict[int, int] = {}

    def pack(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    planned = costs.cost_of(costs.ModelSpec(params=count_parameters(a), architecture=tuple(
        a.model_dump(mode="json").items()))).activation_bytes(batch, length)
    assert planned == pytest.approx(sum(saved.values()), rel=0.15)
