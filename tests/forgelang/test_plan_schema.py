"""A saved plan is untrusted input: ``forgelang.plan_schema`` checks every field."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from forgelang.gate_condition import check_condition
from forgelang.plan import Plan
from forgelang.plan_schema import PlanSchemaError, is_cache_key, validate_plan

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke() -> dict:
    """The saved plan of recipes/smoke.forge, as `forge plan --out` writes it."""
    out = subprocess.run([sys.executable, "-m", "forgelang.cli", "plan",
                          str(ROOT / "recipes" / "smoke.forge"), "--json"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout)


def _refused(data, *expected: str) -> str:
    with pytest.raises(PlanSchemaError) as info:
        validate_plan(data, "plan.json")
    message = str(info.value)
    assert "\n" not in message and message.startswith("plan.json: ")
    assert "forge plan" in message  # says what to do
    for text in expected:
        assert text in message, message
    return message


def test_a_planned_recipe_round_trips(smoke):
    checked = validate_plan(smoke, "plan.json")
    assert Plan.from_json(checked) == Plan.from_json(smoke)


def test_cache_keys_must_be_hex(smoke):
    for bad in ("../../x", "/tmp/evil", "A" * 64, "0" * 63, "0" * 65, "g" * 64, 5, None):
        data = copy.deepcopy(smoke)
        data["phases"][0]["cache_key"] = bad
        _refused(data, "phases[0].cache_key")
    data = copy.deepcopy(smoke)
    data["phases"][0]["cache_key"] = "../../x"
    assert "phases[0].cache_key: must be 64 lowercase hex digits" in _refused(data)
    assert is_cache_key("a" * 64) and not is_cache_key("a" * 64 + "\n")


def test_not_an_object_absurd_seeds_unknown_inputs(smoke):
    assert "not a list" in _refused([smoke])
    for seed in (10**30, -1, 2**63, 1.5, True, "7"):
        data = copy.deepcopy(smoke)
        data["seed"] = seed
        _refused(data, "seed")
        data = copy.deepcopy(smoke)
        data["phases"][3]["seed"] = seed
        _refused(data, "phases[3].seed")
    data = copy.deepcopy(smoke)
    data["phases"][1]["inputs"] = ["nosuch"]
    _refused(data, "phases[1].inputs[0]", "`nosuch` is not an earlier phase")
    data = copy.deepcopy(smoke)
    data["phases"][1]["inputs"] = ["quietstar"]  # a later phase
    _refused(data, "phases[1].inputs[0]")


def test_every_field_is_checked(smoke):
    cases = [
        (("device",), "cuda:0; rm -rf /", "device"),
        (("format",), 2, "format"),
        (("budget",), [1], "budget"),
        (("tracking", "wandb"), "everywhere", "tracking.wandb"),
        (("executor", "num_cpus"), 10**30, "executor.num_cpus"),
        (("target",), {"x": [1]}, "target"),
        (("workspace_state",), "../x", "workspace_state"),
        (("phases",), [], "phases"),
        (("phases", 0, "name"), "../evil", "phases[0].name"),
        (("phases", 0, "kind"), "nosuch", "unknown phase kind `nosuch`"),
        (("phases", 0, "params"), [1, 2], "phases[0].params"),
        (("phases", 0, "action"), "delete", "phases[0].action"),
        (("phases", 0, "kernel_version"), "", "phases[0].kernel_version"),
        (("phases", 0, "estimate", "seconds"), float("nan"), "phases[0].estimate.seconds"),
        (("phases", 0, "estimate", "flops"), -1.0, "phases[0].estimate.flops"),
        (("phases", 0, "estimate", "params"), 10**30, "phases[0].estimate.params"),
        (("phases", 1, "inputs"), ["dir:"], "phases[1].inputs[0]"),
        (("phases", 1, "name"), "cognate", "already the name of a phase"),
        (("gates", 0, "phase"), "nosuch", "gates[0].phase"),
        (("gates", 0, "expression"), "[1] > retention", "gates[0].expression"),
        (("gates", 0, "expression"), "a > 1 } phase x { y = 1", "gates[0].expression"),
        (("gates", 0, "on_fail"), "ignore", "gates[0].on_fail"),
    ]
    for path, value, expected in cases:
        data = copy.deepcopy(smoke)
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        _refused(data, expected)


def test_missing_and_unknown_fields_are_named(smoke):
    data = copy.deepcopy(smoke)
    del data["phases"][2]["cache_key"]
    data["evil\nkey"] = 1
    message = _refused(data, "phases[2].cache_key: missing", "unknown field")
    assert "evil\\nkey" in message  # a key the user wrote is quoted, never a line break


def test_many_problems_give_one_line_with_a_count(smoke):
    data = copy.deepcopy(smoke)
    for step in data["phases"]:
        step["cache_key"] = "x"
    assert "(and 5 more problems)" in _refused(data)


def test_gate_conditions():
    for ok in ("retention >= 0.95", "(a > 1) and not (b < 2)", "min(a, b) >= 0.3 * 2"):
        assert check_condition(ok) is None, ok
    for bad in ("a", "f(a) > 1", 'a > "x"', "a > 1\nb > 2", "(" * 100 + "a" + ")" * 100 + " > 1",
                "a > 1 } gate y { b > 2", "1 < 2 < 3", ""):
        assert check_condition(bad), bad


def test_a_dir_input_with_control_characters_is_refused():
    from forgelang.plan_schema import _input

    assert _input("dir:/models/tiny") == "dir:/models/tiny"
    with pytest.raises(ValueError, match="printable"):
        _input("dir:/models/\x1b[2Jtiny")


@pytest.mark.parametrize("header", [
    'device = "cuda:1000"',
    'tracking { wandb = offline  project = "' + "p" * 256 + '"  entity = "" }',
    'executor { type = ray  address = ""  num_cpus = 65536 }',
])
def test_every_plan_the_compiler_writes_is_a_valid_saved_plan(tmp_path, header):
    """The saved-plan schema and the recipe schema agree on the header's limits."""
    from forgelang.api import compile_plan

    text = (ROOT / "recipes" / "smoke.forge").read_text()
    for line in ("  device = cpu\n", "  tracking { wandb = offline }\n"):
        if line.split()[0] in header:
            text = text.replace(line, "\n")
    text = text.replace('recipe "agent-forge-smoke" {', 'recipe "agent-forge-smoke" {\n  ' + header, 1)
    (tmp_path / "r.forge").write_text(text)
    import shutil

    shutil.copytree(ROOT / "recipes" / "shared", tmp_path / "shared")
    plan = compile_plan(tmp_path / "r.forge", overrides=[], import_roots=[])
    validate_plan(json.loads(json.dumps(plan.to_json())))
