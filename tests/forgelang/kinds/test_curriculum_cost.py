"""The curriculum estimate's pass counting (``forgelang.kinds.curriculum_cost``): a ternary
input pays its quantisers, rows of mixed lengths run one forward per distinct length."""

from forgelang.devices import DeviceProfile
from forgelang.kinds import costs, curriculum_cost, pass_cost
from forgelang.kinds.base import EstimateContext, ModelSpec
from forgelang.kinds.cognate_arch import arch_from
from forgelang.kinds.curriculum import KIND, CurriculumParams

ARCH = tuple(arch_from({"extends": "smoke"}).model_dump(mode="json").items())
PARAMS = CurriculumParams(questions=40, batch_size=4, levels=3)


def spec(bits: float) -> ModelSpec:
    return ModelSpec(params=49_223, bits_per_param=bits, architecture=ARCH)


def seconds(bits: float) -> float:
    ctx = EstimateContext(device=DeviceProfile("cpu", "cpu", 1.0e11, 0.3, 2**34), inputs=(spec(bits),))
    return KIND.estimate(PARAMS, ctx).seconds


def test_a_ternary_input_costs_more_than_a_float_one():
    assert seconds(4.2) > seconds(32.0)


def test_mixed_length_rows_run_one_forward_per_distinct_length():
    cost = costs.cost_of(spec(32.0))
    one, four = pass_cost.Work(), pass_cost.Work()
    curriculum_cost.grouped(one, cost, PARAMS, 1, 40.0, 0.0)
    curriculum_cost.grouped(four, cost, PARAMS, 4, 40.0, 0.0)
    assert 1.5 * one.ops < four.ops <= 4 * one.ops
