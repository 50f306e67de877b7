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
