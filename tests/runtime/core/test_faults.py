"""Faults end in one clear line (what is wrong, what to do), never a traceback, and a run
is not left `running`: a corrupt registry, a read-only workspace, a full disk, a
`--workspace` that is a file."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
from pathlib import Path

import pytest
import untrusted_plans as up

from forgelang import cli
from runtime import commands, orchestrator
from runtime.kernels import KernelRegistry
from runtime.registry import ModelRegistry

REAL_CONNECT = sqlite3.connect


@pytest.fixture
def plan(tmp_path, monkeypatch) -> Path:
    """The noop plan saved to a file; `forge apply` sees only the noop kernel."""
    monkeypatch.setattr(orchestrator, "_builtin_kernels", up.noop_kernels)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(up.noop_plan()))
    return path


def _one_line(capsys, *expected: str, stream: str = "err") -> str:
    out = capsys.readouterr()
    text = getattr(out, stream)
    assert "Traceback" not in out.out + out.err
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    for part in expected:
        assert part in lines[0], lines[0]
    return lines[0]


class FaultyConnection:
    """A sqlite3 connection whose statements fail as a sick disk makes them fail."""

    def __init__(self, conn, fails, message: str) -> None:
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "_fails", fails)
        object.__setattr__(self, "_message", message)

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def __setattr__(self, name, value):
        setattr(self._conn, name, value)

    def execute(self, sql: str, *args):
        if self._fails(sql):
            raise sqlite3.OperationalError(self._message)
        return self._conn.execute(sql, *args)


def _sick_disk(monkeypatch, fails, message: str) -> None:
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **kw: FaultyConnection(
        REAL_CONNECT(*a, **kw), fails, message))


def _garble_runs_table(db: Path) -> None:
    conn = REAL_CONNECT(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'runs'").fetchone()[0]
    conn.close()
    with open(db, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xa5" * page_size)


def test_a_corrupt_registry_is_named_with_the_way_out(plan, tmp_path, capsys):
    workspace = tmp_path / "ws"
    assert commands.apply(str(plan), workspace) == 0
    capsys.readouterr()
    db = workspace / "registry.db"
    _garble_runs_table(db)
    assert commands.apply(str(plan), workspace) == 2
    _one_line(capsys, "is corrupt", "database disk image is malformed", str(db),
              "docs/runtime.md")
    assert commands.runs(workspace) == 2
    _one_line(capsys, "is corrupt", str(db))
    db.write_bytes(os.urandom(8192))  # garbage through and through
    assert cli.main(["apply", str(plan), "--workspace", str(workspace)]) == 2
    _one_line(capsys, "is corrupt", "file is not a database", "mv ")
    assert cli.main(["show", "--workspace", str(workspace)]) == 2
    _one_line(capsys, "is corrupt")
    (workspace / "corrupt").mkdir()  # the way out the message gives
    for path in workspace.glob("registry.db*"):
        path.rename(workspace / "corrupt" / path.name)
    assert commands.apply(str(plan), workspace) == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod")
def test_a_read_only_workspace_for_real(plan, tmp_path, capsys):
    workspace = tmp_path / "ws"
    assert commands.apply(str(plan), workspace) == 0
    capsys.readouterr()
    for path in [*workspace.rglob("*"), workspace]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        assert commands.apply(str(plan), workspace) == 2
        _one_line(capsys, "writable")
    finally:
        for path in [workspace, *workspace.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_a_read_only_registry(plan, tmp_path, capsys, monkeypatch):
    workspace = tmp_path / "ws"
    assert commands.apply(str(plan), workspace) == 0
    capsys.readouterr()
    _sick_disk(monkeypatch, lambda sql: sql.startswith("BEGIN IMMEDIATE"),
               "attempt to write a readonly database")
    assert commands.apply(str(plan), workspace) == 2
    _one_line(capsys, "read-only", str(workspace / "registry.db"), "writable")
    assert commands.runs(workspace, json=True) == 0  # reading still works


def test_a_full_disk_during_a_phase_fails_the_run_cleanly(plan, tmp_path, capsys, monkeypatch):
    workspace = tmp_path / "ws"
    _sick_disk(monkeypatch, lambda sql: sql.startswith("UPDATE phase_runs SET status = "
                                                       "'completed'"),
               "database or disk is full")
    assert commands.apply(str(plan), workspace) == 1
    _one_line(capsys, "is full", "free some space")
    with ModelRegistry(workspace, create=False) as reg:
        (run,) = reg.runs()
        shown = reg.show(run["id"])
    assert run["status"] == "failed" and "full" in run["message"]
    assert [p["status"] for p in shown["phases"]] == ["failed"]


def test_a_disk_that_stays_full_leaves_the_run_to_the_next_apply(plan, tmp_path, capsys,
                                                                 monkeypatch):
    workspace = tmp_path / "ws"
    full = []

    def fails(sql: str) -> bool:
        if sql.startswith("UPDATE phase_runs SET status = 'completed'"):
            full.append(sql)
        return bool(full) and sql.split()[0] in ("BEGIN", "UPDATE", "INSERT")

    _sick_disk(monkeypatch, fails, "database or disk is full")
    assert commands.apply(str(plan), workspace, json_events=True) == 1
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[-1]["event"] == "run_finished" and events[-1]["status"] == "failed"
    assert "is full" in events[-1]["message"]
    monkeypatch.setattr(sqlite3, "connect", REAL_CONNECT)
    with ModelRegistry(workspace, create=False) as reg:
        assert reg.runs()[0]["status"] == "running"  # nothing could be written
    assert commands.apply(str(plan), workspace) == 0  # the space is back
    with ModelRegistry(workspace, create=False) as reg:
        assert sorted(r["status"] for r in reg.runs()) == ["completed", "interrupted"]
        assert reg._read("SELECT COUNT(*) FROM phase_runs WHERE status = 'running'")[0][0] == 0


class FullDiskKernel:
    def run(self, ctx, params, inputs):
        raise OSError(errno.ENOSPC, "No space left on device", str(ctx.work_dir / "model"))


def test_a_kernel_hitting_a_full_disk(plan, tmp_path, capsys, monkeypatch):
    kernels = KernelRegistry()
    kernels.register("noop", FullDiskKernel)
    monkeypatch.setattr(orchestrator, "_builtin_kernels", lambda: kernels)
    assert commands.apply(str(plan), tmp_path / "ws") == 1
    _one_line(capsys, "phase `a` failed", "is full", "free some space")


def test_a_workspace_that_is_a_file(plan, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("not a workspace")
    for workspace in (afile, afile / "below"):
        assert commands.apply(str(plan), workspace) == 2
        _one_line(capsys, "is not a directory", "--workspace")
        assert cli.main(["runs", "--workspace", str(workspace)]) == 2
        _one_line(capsys, "is not a directory")
        assert commands.apply(str(plan), workspace, json_events=True) == 2
        event = json.loads(_one_line(capsys, "refused", stream="out"))
        assert "is not a directory" in event["message"]
    assert afile.read_text() == "not a workspace"


def test_a_fault_after_the_run_ended_is_not_reported_as_a_refusal(plan, tmp_path, monkeypatch,
                                                                  capsys):
    def failing_close(self):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(ModelRegistry, "close", failing_close)
    assert commands.apply(str(plan), tmp_path / "ws") == 1  # not 2: the run did happen
    assert "after the run ended completed" in _one_line(capsys)
