"""What keeps a cold `forge plan` fast: leaf-first model builds, no plugin scan, no
builtin default factories. Each must leave results and diagnostics unchanged.

Model builds are per process and other tests build models too, so the build-order
checks run in fresh interpreters.
"""

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

from forgelang import cli
from forgelang.kinds import KINDS, TECHNIQUES

ROOT = Path(__file__).resolve().parents[2]

# Validate baking params (nested ACycle/BCycle/Plateau models) in a fresh process, either
# through forgelang's validate_model (LEAF=1: leaf-first) or pydantic alone (parent-first).
_PROBE = """
import json, os, sys
from pydantic import ValidationError
from forgelang.kinds import KINDS
from forgelang.diagnostics import Diagnostics
from forgelang.validation import validate_model
params = KINDS.get("baking").params
full = {"a_cycle": {"episodes": 3}, "b_cycle": {"personas": 2}, "plateau": {}}  # no factories
if os.environ.get("LEAF"):
    assert validate_model(params, full, ("baking",), None, None, Diagnostics()) is not None
else:
    params.model_validate(full)
out = {"complete": {n: params.model_fields[n].annotation.__pydantic_complete__
                    for n in ("a_cycle", "b_cycle", "plateau")}}
for data in json.loads(sys.argv[1]):
    try:
        out.setdefault("results", []).append(params.model_validate(data).model_dump())
    except ValidationError as e:
        out.setdefault("results", []).append(e.errors(include_url=False))
print(json.dumps(out, default=str))
"""
_INPUTS = [{}, {"a_cycle": {"episodes": 3}}, {"a_cycle": {"episodes": 0}},
           {"b_cycle": {"personas": "many", "bogus": 1}}, {"plateau": 5}]


def _probe(leaf: bool) -> dict:
    env = {**os.environ, "LEAF": "1" if leaf else ""}
    out = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(_INPUTS)], cwd=ROOT,
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_leaf_first_builds_nested_models_and_validates_identically():
    leaf, default = _probe(leaf=True), _probe(leaf=False)
    assert all(leaf["complete"].values())  # nested models built (and reused by the parent)
    assert not any(default["complete"].values())  # pydantic alone inlines them unbuilt
    assert leaf["results"] == default["results"]  # same values, same errors
    assert len(leaf["results"]) == len(_INPUTS)


def test_language_commands_skip_the_plugin_scan_and_restore_the_environment(monkeypatch):
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    with cli._without_pydantic_plugins(True):
        assert os.environ["PYDANTIC_DISABLE_PLUGINS"] == "__all__"
    assert "PYDANTIC_DISABLE_PLUGINS" not in os.environ
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "")  # the user's choice is kept
    with cli._without_pydantic_plugins(True):
        assert os.environ["PYDANTIC_DISABLE_PLUGINS"] == ""
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS")
    with cli._without_pydantic_plugins(False):  # apply, runs, ...: untouched
        assert "PYDANTIC_DISABLE_PLUGINS" not in os.environ
    assert set(cli.LANGUAGE_COMMANDS) == {"validate", "fmt", "plan", "graph", "schema"}


def _models(model: type[BaseModel], seen: set) -> None:
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        for arg in _walk(field.annotation):
            _models(arg, seen)


def _walk(annotation):
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _walk(arg)


def test_no_params_field_has_a_builtin_default_factory():
    """pydantic reads a builtin's signature by tokenizing text: ~7 ms per cold plan."""
    seen: set = set()
    for name in KINDS.names():
        _models(KINDS.get(name).params, seen)
    for name in TECHNIQUES.names():
        _models(TECHNIQUES.get(name), seen)
    assert len(seen) > 30  # every kind's params and the models nested in them
    builtin = [f"{m.__name__}.{n}" for m in seen for n, f in m.model_fields.items()
               if f.default_factory is not None
               and (inspect.isbuiltin(f.default_factory)
                    or getattr(f.default_factory, "__module__", None) == "builtins")]
    assert builtin == []
