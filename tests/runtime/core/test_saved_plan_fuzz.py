"""Fuzz `forge apply` with mutated saved plans: every one is refused cleanly.

Each mutation makes the plan invalid (a wrong type, a path in place of an id or a key,
a huge or negative number, an unknown id, a list for a dict, a missing key, an unknown
key). For each, `forge apply` must exit 2 with one ``error:`` line and no traceback,
run no kernel, record no run, and create, read or delete nothing outside the workspace:
the tree around the workspace is compared before and after, and an audit hook watches
every file the process opens, lists, makes or removes there.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path

import pytest
import untrusted_plans as up

from runtime import commands, orchestrator
from runtime.registry import ModelRegistry

# keys whose absence must be refused (the others have defaults)
REQUIRED = {(): {"format", "recipe", "source", "seed", "device", "target", "budget",
                 "tracking", "executor", "phases"},
            ("phases", "*"): {"name", "kind", "inputs", "params", "seed", "kernel_version",
                              "cache_key", "estimate"},
            ("phases", "*", "estimate"): {"params", "peak_memory_bytes", "flops", "seconds",
                                          "disk_bytes"},
            ("gates", "*"): {"phase", "expression"}}
OPEN_DICTS = {("target",), ("totals",)}  # any key, any scalar value
ID_FIELDS = {"cache_key", "workspace_state", "name", "kind", "phase", "device"}
_AUDITED = ("open", "os.listdir", "os.scandir", "os.mkdir", "os.remove", "os.rmdir",
            "os.rename", "os.replace", "shutil.rmtree", "shutil.copytree", "os.symlink")
_WATCH: dict = {"root": None, "allowed": (), "seen": []}


def _audit(event: str, args: tuple) -> None:
    root = _WATCH["root"]
    if root is None or event not in _AUDITED:
        return
    for arg in args[:1] if event == "open" else args:  # open's other args: mode, flags
        if isinstance(arg, (str, os.PathLike)) and not isinstance(arg, bytes):
            path = os.path.abspath(os.fspath(arg))
            if path.startswith(root) and not path.startswith(_WATCH["allowed"]):
                _WATCH["seen"].append((event, path))


sys.addaudithook(_audit)


def _walk(node, at=()):
    """Every (path, value) below the root of a JSON tree."""
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for key, value in items:
        yield at + (key,), value
        yield from _walk(value, at + (key,))


def _shape(at: tuple) -> tuple:
    return tuple("*" if isinstance(k, int) else k for k in at)


def _set(data, at: tuple, value):
    data = copy.deepcopy(data)
    node = data
    for key in at[:-1]:
        node = node[key]
    node[at[-1]] = value
    return data


def _delete(data, at: tuple):
    data = copy.deepcopy(data)
    node = data
    for key in at[:-1]:
        node = node[key]
    del node[at[-1]]
    return data


def _wrong_types(value) -> list:
    """Values of a type that is wrong wherever ``value``'s type is right."""
    if isinstance(value, dict):
        return [[1, 2], "x", 5]
    if isinstance(value, list):
        return [{"a": 1}, 3, "x"]
    if isinstance(value, str):
        return [["x"], {"s": 1}]
    if isinstance(value, bool):
        return [[True], {"b": 1}]
    if isinstance(value, (int, float)):
        return [[1], {"n": 1}, float("inf"), float("nan"), -1, "1e999"]
    return [{"x": 1}, [1]]  # null


def _paths_for(sentinel: Path) -> list[str]:
    return ["../../sentinel", str(sentinel), str(sentinel / "x"), "/etc/passwd", "..", "",
            "a/../../b", "checkpoints/../../../sentinel", "x\0y", "0" * 63 + "/",
            "A" * 64, "g" * 64, "~/.ssh", "dir:"]


def _mutations(base: dict, sentinel: Path):
    """(what, mutated plan) pairs, each invalid by construction."""
    yield "a list", [base]
    yield "a string", "plan"
    yield "null", None
    yield "no phases", {**base, "phases": []}
    for at, value in list(_walk(base)):
        shape, parent = _shape(at), _shape(at[:-1])
        if parent in OPEN_DICTS:
            yield f"{at} = list", _set(base, at, [1])
            continue
        for wrong in _wrong_types(value):
            yield f"{at} = {wrong!r:.30}", _set(base, at, wrong)
        if isinstance(value, int) and not isinstance(value, bool):
            for huge in (10**30, 2**63, -(2**63)):
                yield f"{at} = {huge}", _set(base, at, huge)
        if shape[-1] in ID_FIELDS or shape[-2:-1] == ("inputs",):
            for bad in _paths_for(sentinel):
                yield f"{at} = {bad!r}", _set(base, at, bad)
        if isinstance(at[-1], str) and at[-1] in REQUIRED.get(parent, ()):
            yield f"del {at}", _delete(base, at)
        if isinstance(value, dict) and shape not in OPEN_DICTS:
            yield f"{at} + unknown key", _set(base, at + ("evil",), 1)
    yield from _unknown_ids(base)


def _unknown_ids(base: dict):
    yield "unknown top-level key", {**base, "evil": 1}
    yield "input is unknown", _set(base, ("phases", 1, "inputs"), ["zz"])
    yield "input is a later phase", _set(base, ("phases", 0, "inputs"), ["b"])
    yield "input is itself", _set(base, ("phases", 1, "inputs"), ["b"])
    yield "input is a missing dir", _set(base, ("phases", 0, "inputs"), ["dir:/no/such/dir"])
    yield "duplicate name", _set(base, ("phases", 1, "name"), "a")
    yield "unknown kind", _set(base, ("phases", 0, "kind"), "nosuch")
    yield "gate on unknown phase", _set(base, ("gates", 0, "phase"), "zz")
    for expr in ("[1] > steps", "steps > 1 } phase x { y = 1", "__import__('os') > 1",
                 "steps", "open(1) > 0", "steps > 'x'"):
        yield f"gate {expr!r}", _set(base, ("gates", 0, "expression"), expr)


@pytest.fixture
def arena(tmp_path, monkeypatch):
    """cwd, a sentinel directory and the workspace, side by side in tmp_path."""
    monkeypatch.setattr(orchestrator, "_builtin_kernels", up.noop_kernels)
    cwd, sentinel, workspace = tmp_path / "cwd", tmp_path / "sentinel", tmp_path / "ws"
    for d in (cwd, sentinel / "checkpoints", workspace):
        d.mkdir(parents=True)
    (sentinel / "precious.txt").write_text("keep me")
    monkeypatch.chdir(cwd)
    return tmp_path, sentinel, workspace


def test_the_base_plan_is_valid(arena, capsys):
    tmp_path, _, _ = arena
    path = tmp_path / "control.json"
    path.write_text(json.dumps(up.noop_plan()))
    up.RAN.clear()
    assert commands.apply(str(path), tmp_path / "control-ws") == 0, capsys.readouterr()
    assert up.RAN == ["a", "b"]


def test_mutated_saved_plans_are_refused_cleanly(arena, capsys):
    tmp_path, sentinel, workspace = arena
    plans = tmp_path / "plans"
    plans.mkdir()
    mutations = list(_mutations(up.noop_plan(), sentinel))
    assert len(mutations) > 300
    for i, (_, data) in enumerate(mutations):  # written first: the watch sees only apply
        (plans / f"{i}.json").write_text(json.dumps(data))
    before = up.tree_state(tmp_path, workspace)
    up.RAN.clear()
    failures = []
    _WATCH.update(root=str(tmp_path), allowed=(str(workspace), str(plans)), seen=[])
    try:
        for i, (what, _) in enumerate(mutations):
            code = commands.apply(str(plans / f"{i}.json"), workspace)
            out = capsys.readouterr()
            text = out.out + out.err
            lines = out.err.strip().splitlines()
            if code != 2 or "Traceback" in text or len(lines) != 1 or \
                    not lines[0].startswith("error: "):
                failures.append(f"{what}: exit {code}: {text[:300]}")
    finally:
        _WATCH["root"] = None
    assert not failures, "\n".join(failures[:20])
    assert up.RAN == [], "a kernel ran"
    assert not _WATCH["seen"], _WATCH["seen"][:10]
    assert up.tree_state(tmp_path, workspace) == before
    assert (sentinel / "precious.txt").read_text() == "keep me"
    with ModelRegistry(workspace, create=False) as reg:
        assert reg.runs() == []
    assert sorted(p.name for p in workspace.iterdir()) <= ["apply.lock", "artifacts",
                                                           "registry.db", "registry.db-shm",
                                                           "registry.db-wal"]
