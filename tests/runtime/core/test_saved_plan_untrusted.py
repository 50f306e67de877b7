"""A saved plan is untrusted input: refused in one line, before anything runs or is touched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import untrusted_plans as up

from forgelang import cli
from forgelang.api import compile_plan
from runtime import commands, orchestrator
from runtime.orchestrator import _remove_tree
from runtime.phase_runner import checkpoint_dir

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def noop_only(monkeypatch):
    """`forge apply` in this process sees only the noop kernel (no training, no phases)."""
    monkeypatch.setattr(orchestrator, "_builtin_kernels", up.noop_kernels)
    up.RAN.clear()


def _apply_cli(tmp_path: Path, data, workspace: Path, capsys) -> tuple[int, str]:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    code = cli.main(["apply", str(path), "--workspace", str(workspace)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_the_noop_plan_runs(tmp_path, capsys):
    code, out = _apply_cli(tmp_path, up.noop_plan(), tmp_path / "ws", capsys)
    assert code == 0, out
    assert up.RAN == ["a", "b"]


def test_a_cache_key_outside_the_workspace_is_refused(tmp_path, capsys):
    """Before: the runtime made ../../victim its checkpoint dir and deleted it afterwards."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    workspace = tmp_path / "ws"
    for key in ("../../victim", str(victim)):
        data = up.noop_plan()
        data["phases"][0]["cache_key"] = key
        code, out = _apply_cli(tmp_path, data, workspace, capsys)
        assert code == 2 and "phases[0].cache_key: must be 64" in out, out
        assert "Traceback" not in out and len(out.strip().splitlines()) == 1
        assert (victim / "precious.txt").read_text() == "keep me"
    assert up.RAN == []


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: [d], "a saved plan is a JSON object, not a list"),
    (lambda d: {**d, "seed": 10**30}, "seed: input should be less than or equal to"),
    (lambda d: {**d, "seed": -1}, "seed: input should be greater than or equal to 0"),
    (lambda d: {**d, "phases": [d["phases"][0], {**d["phases"][1], "inputs": ["zz"]}]},
     "phases[1].inputs[0]: `zz` is not an earlier phase"),
])
def test_bad_saved_plans_give_one_line(tmp_path, capsys, mutate, expected):
    code, out = _apply_cli(tmp_path, mutate(up.noop_plan()), tmp_path / "ws", capsys)
    assert code == 2, out
    assert expected in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1, out
    assert up.RAN == []


def test_unreadable_plan_files_are_refused(tmp_path, capsys):
    path = tmp_path / "plan.json"
    for body in (b"[" * 100_000, b"\xff\xfe garbage", b"1" * 5000, b"{", b""):
        path.write_bytes(body)
        assert commands.apply(str(path), tmp_path / "ws") == 2
        err = capsys.readouterr().err
        assert "is not a plan JSON file" in err and len(err.strip().splitlines()) == 1, err


def test_checkpoint_dir_takes_only_hex_keys(tmp_path):
    workspace = tmp_path / "ws"
    key = "ab" * 32
    assert checkpoint_dir(workspace, key) == workspace / "checkpoints" / key
    for bad in ("../x", "/etc", "..", "", "AB" * 32, "ab" * 32 + "/..", "ab" * 31):
        with pytest.raises(ValueError, match="64 lowercase hex"):
            checkpoint_dir(workspace, bad)


def test_a_checkpoints_symlink_out_of_the_workspace_is_refused(tmp_path):
    workspace, elsewhere = tmp_path / "ws", tmp_path / "elsewhere"
    workspace.mkdir()
    elsewhere.mkdir()
    (workspace / "checkpoints").symlink_to(elsewhere)
    with pytest.raises(ValueError, match="outside the workspace"):
        checkpoint_dir(workspace, "ab" * 32)


def test_tree_removal_stays_inside_the_workspace(tmp_path):
    workspace, outside = tmp_path / "ws", tmp_path / "outside"
    (workspace / "checkpoints" / "k").mkdir(parents=True)
    outside.mkdir()
    for path in (outside, workspace, workspace / ".." / "outside", Path("/")):
        with pytest.raises(ValueError, match="not inside the workspace"):
            _remove_tree(path, workspace)
    assert outside.is_dir()
    _remove_tree(workspace / "checkpoints" / "k", workspace)
    assert not (workspace / "checkpoints" / "k").exists()


def test_the_real_cli_refuses_a_traversing_cache_key(tmp_path):
    """`forge plan --out`, edit a cache key to climb out of the workspace, `forge apply`."""
    plan, victim, workspace = tmp_path / "p.json", tmp_path / "victim", tmp_path / "ws"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    data = compile_plan(ROOT / "recipes" / "smoke.forge").to_json()  # what --out saves
    data["phases"][0]["cache_key"] = "../../victim"
    plan.write_text(json.dumps(data))
    run = subprocess.run([sys.executable, "-m", "forgelang.cli", "apply", str(plan), "--workspace", str(workspace)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "phases[0].cache_key: must be 64 lowercase hex digits" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert len(run.stderr.strip().splitlines()) == 1
    assert (victim / "precious.txt").read_text() == "keep me"
