"""A change to the code a kernel runs changes its steps' cache keys; other code does not."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from forgelang.kernel_code import NO_KERNEL, code_closure, kernel_files, kernel_fingerprint

REPO = Path(__file__).resolve().parents[2]
PLAN = ("import json, sys; from forgelang.api import compile_plan; "
        "plan = compile_plan(sys.argv[1], overrides=[], import_roots=[]); "
        "print(json.dumps({s.name: [s.kernel_version, s.cache_key] for s in plan.steps}))")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A copy of the packages and recipes, to edit without touching the checkout."""
    root = tmp_path_factory.mktemp("tree")
    for name in ("forgelang", "runtime", "recipes"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _keys(root: Path) -> dict[str, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(root), "FORGE_NO_CACHE": "1"}
    done = subprocess.run([sys.executable, "-c", PLAN, str(root / "recipes" / "smoke.forge")],
                          capture_output=True, text=True, cwd=root, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_editing_kernel_code_changes_exactly_the_keys_that_depend_on_it(tree):
    before = _keys(tree)
    assert before["cognate"][0].startswith("1+") and NO_KERNEL not in before["cognate"][0]
    # the toolkit's measurement and the model are code cognate runs (through imports)
    _append(tree / "runtime" / "phases" / "toolkit" / "measure.py", "\nCHANGED = 1\n")
    after_toolkit = _keys(tree)
    assert after_toolkit["cognate"] != before["cognate"]
    assert after_toolkit["evomerge"][0] != before["evomerge"][0]  # evomerge measures with it too
    _append(tree / "runtime" / "merge" / "slerp.py", "\nCHANGED = 1\n")  # only evomerge merges
    after_merge = _keys(tree)
    assert after_merge["cognate"] == after_toolkit["cognate"]
    assert after_merge["evomerge"][0] != after_toolkit["evomerge"][0]
    _append(tree / "runtime" / "nn" / "attention.py", "\nCHANGED = 1\n")
    assert _keys(tree)["cognate"][0] != after_merge["cognate"][0]


def test_a_lazy_import_inside_a_function_is_followed():
    closure = code_closure(kernel_files("cognate"))
    # runtime.data imports its tokenizer module through importlib, by a dotted string
    assert any(p.endswith(os.path.join("runtime", "data", "tokenizer.py")) for p in closure)
    assert not any(os.sep + "merge" + os.sep in p for p in closure)  # cognate never merges


def test_a_kind_without_a_kernel_package_has_no_fingerprint():
    assert kernel_fingerprint("no_such_kind") == NO_KERNEL
    assert len(kernel_fingerprint("cognate")) == 16
