"""The shipped recipes validate, are canonically formatted, plan, and match the design."""

from pathlib import Path

import pytest

from forgelang import api, jsonschema
from forgelang.fmt import format_text

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").glob("*.forge"))


def test_the_three_recipes_exist():
    names = {p.name for p in RECIPES}
    assert {"smoke.forge", "tiny.forge", "agent-forge-v2.forge"} <= names


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipe_is_valid_and_plans(path):
    plan, diags = api.check(path)
    assert not diags.errors, "\n".join(d.render(diags.sources) for d in diags.errors)
    assert [s.kind for s in plan.steps] == ["cognate", "evomerge", "quietstar", "bitnet",
                                            "curriculum", "baking", "experts", "compression"]
    assert all(s.estimate.seconds > 0 and s.estimate.peak_memory_bytes > 0 for s in plan.steps)


@pytest.mark.parametrize("path", sorted((ROOT / "recipes").rglob("*.forge")), ids=lambda p: p.name)
def test_recipe_is_canonically_formatted(path):
    text = path.read_text()
    assert format_text(text, str(path)) == text, f"run: forge fmt {path}"


def test_full_recipe_matches_design_sizes():
    plan = api.compile_plan(ROOT / "recipes" / "agent-forge-v2.forge")
    cognate = plan.step("cognate")
    assert abs(cognate.estimate.params - 25e6) / 25e6 <= 0.10
    evo = plan.step("evomerge").params
    assert (evo["population"], evo["generations"]) == (8, 50)
    assert len(evo["techniques"]) == 6
    assert plan.step("curriculum").params["questions"] == 20_000
    assert plan.step("experts").params["nsga2"]["evaluations"] == 5000
    assert plan.target["name"] == "gtx1660"
    assert not plan.over_budget(), plan.over_budget()


def test_smoke_model_is_about_50k_and_tiny_about_1m():
    smoke = api.compile_plan(ROOT / "recipes" / "smoke.forge").step("cognate").estimate.params
    tiny = api.compile_plan(ROOT / "recipes" / "tiny.forge").step("cognate").estimate.params
    assert 40_000 <= smoke <= 60_000
    assert 0.9e6 <= tiny <= 1.1e6


@pytest.mark.parametrize("name,schema", sorted(jsonschema.schemas().items()))
def test_checked_in_schema_in_sync(name, schema):
    path = ROOT / "schemas" / name
    assert path.read_text() == jsonschema.render(schema), "regenerate: forge schema --out schemas"
