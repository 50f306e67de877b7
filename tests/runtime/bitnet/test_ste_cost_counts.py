"""The straight-through estimate terms (``forgelang.kinds.ste_cost``) against counted ops and
FLOPs of real steps: what a BitLinear step adds to a float one (bitnet's float input, and a
stored ternary model made float, as curriculum trains it), a whole STE training step with
MuGrokfast, and Muon's Newton-Schulz FLOPs."""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from forgelang.kinds import costs, ste_cost
from forgelang.kinds.cognate_arch import arch_from
from forgelang.kinds.optimizer import OPTIMIZER_PRESETS


class Count(TorchDispatchMode):
    """Counts every aten op dispatched inside."""

    ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        Count.ops += 1
        return func(*args, **(kwargs or {}))


def counted(fn) -> int:
    Count.ops = 0
    with Count():
        fn()
    return Count.ops


def build(arch: dict):
    """A random Cognate model of ``arch`` and its planned cost."""
    from runtime.nn import TrmTitansMagConfig, TrmTitansMagForCausalLM

    a = arch_from(arch)
    torch.manual_seed(0)
    model = TrmTitansMagForCausalLM(TrmTitansMagConfig(**a.model_dump(exclude={"type"})))
    cost = costs.cost_of(costs.ModelSpec(params=0, architecture=tuple(
        a.model_dump(mode="json").items())))
    return model, cost


def step(model, ids) -> None:
    model.train()
    model(input_ids=ids, labels=ids).loss.backward()
    model.zero_grad(set_to_none=True)


ARCHS = [{"extends": "smoke"}, {"extends": "smoke", "n_cycles": 2}, {"extends": "tiny"}]


@pytest.mark.parametrize("arch", ARCHS)
def test_ste_extra_ops_match_counted_steps(arch):
    """Forward + backward ops a BitLinear step adds to a float step, within 15% of the planned
    ``ste_step_ops``: a float input (bitnet) and a stored ternary
    model made float (curriculum)."""
    from runtime.bitnet.bitlinear import attach_bitlinear
    from runtime.bitnet.trainable import to_float
    from runtime.formats.ternary import convert, default_modules

    model, cost = build(arch)
    ids = torch.randint(4, cost.vocab_size, (4, 30))
    float_step = counted(lambda: step(model, ids))
    modules = default_modules(model)
    handle = attach_bitlinear(model, modules, 8)
    float_in = counted(lambda: step(model, ids)) - float_step
    handle.detach()
    convert(model, modules, activation_bits=8)
    form = to_float(model)
    handle = attach_bitlinear(model, form.modules, form.activation_bits)
    ternary_in = counted(lambda: step(model, ids)) - float_step
    handle.detach()
    assert ste_cost.ste_step_ops(cost, False) == pytest.approx(float_in, rel=0.15)
    assert ste_cost.ste_step_ops(cost, True) == pytest.approx(ternary_in, rel=0.15)


def test_whole_ste_step_and_muon_flops_match_counted():
    """A whole STE step with MuGrokfast (the training loop's ops) within 15% of the planned
    float step + ``ste_step_ops``; the optimiser's matmul FLOPs within 15% of ``muon_flops``."""
    from runtime.bitnet.bitlinear import attach_bitlinear
    from runtime.formats.ternary import default_modules
    from runtime.optim import MuGrokfast
    from runtime.training import train_steps
    from runtime.training.flops import counter

    model, cost = build({"extends": "smoke"})
    ids = torch.randint(4, cost.vocab_size, (4, 30))
    handle = attach_bitlinear(model, default_modules(model), 8)
    optimizer = MuGrokfast.from_config(model, OPTIMIZER_PRESETS["mugrokfast_ste"])
    train_steps(model, optimizer, lambda s: (ids, ids), 1)  # optimiser state exists
    ops = counted(lambda: train_steps(model, optimizer, lambda s: (ids, ids), 2, start_step=1))
    planned = cost.train_ops_per_step(30) + ste_cost.ste_step_ops(cost, False)
    assert planned == pytest.approx(ops, rel=0.15)
    model(input_ids=ids, labels=ids).loss.backward()
    with counter() as flops:
        optimizer.step()
    handle.detach()
    assert ste_cost.muon_flops(cost, 5) == pytest.approx(flops.get_total_flops(), rel=0.15)
