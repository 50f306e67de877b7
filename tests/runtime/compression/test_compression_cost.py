"""The compression estimate counts VPTQ's GPTQ-ordered assignment as the runtime runs it:
per column of every compressed matrix (``forgelang.kinds.compression_cost``)."""

import math

import pytest

from forgelang.kinds import compression_cost, costs
from forgelang.kinds.cognate_arch import arch_from


def _model(arch):
    import torch

    import runtime.nn  # noqa: F401
    from runtime.nn import TrmTitansMagConfig, TrmTitansMagForCausalLM

    a = arch_from(arch)
    torch.manual_seed(0)
    model = TrmTitansMagForCausalLM(TrmTitansMagConfig(**a.model_dump(exclude={"type"})))
    cost = costs.cost_of(costs.ModelSpec(params=0, architecture=tuple(
        a.model_dump(mode="json").items())))
    return model, cost


@pytest.mark.parametrize("arch", [{"extends": "smoke"}, {"extends": "tiny"}])
def test_target_columns_are_the_compressed_matrices_columns(arch):
    from runtime.phases.compression.layers import target_modules

    model, cost = _model(arch)
    columns = sum(model.get_submodule(n).in_features for n in target_modules(model))
    assert compression_cost.target_columns(cost) == columns


@pytest.mark.parametrize("residual", [0, 8])
def test_vptq_assignment_ops_match_counted(residual):
    """The estimate's assignment ops within 10% of what ``vptq.quantise`` dispatches on
    every target of a smoke model."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    from forgelang.kinds.compression import Vptq
    from runtime.compression import vptq
    from runtime.phases.compression.layers import target_modules

    model, cost = _model({"extends": "smoke"})
    books = vptq.Codebooks(torch.randn(16, 8), torch.randn(8, 8) if residual else None)
    weights = [model.get_submodule(n).weight.detach() for n in target_modules(model)]
    factors = [vptq.inverse_factor(torch.eye(w.shape[1])) for w in weights]

    class Count(TorchDispatchMode):
        ops = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.ops += 1
            return func(*args, **(kwargs or {}))

    with Count():
        for w, f in zip(weights, factors, strict=True):
            vptq.quantise(w, f, books, 8)
    columns = compression_cost.target_columns(cost)
    per = compression_cost.VPTQ_OPS_PER_COLUMN + (
        compression_cost.VPTQ_RESIDUAL_OPS_PER_COLUMN if residual else 0)
    planned = per * columns + compression_cost.VPTQ_OPS_PER_BLOCK * math.ceil(
        columns / compression_cost.GPTQ_BLOCK)
    assert Vptq(residual=residual).residual == residual
    assert planned == pytest.approx(Count.ops, rel=0.10)
