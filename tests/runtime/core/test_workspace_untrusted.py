"""A workspace is untrusted input: links planted in it never make the tool write, read or
delete outside it, and registry rows never name a path."""

from __future__ import annotations

import json
import sqlite3

import pytest
import untrusted_plans as up

from runtime import commands, orchestrator
from runtime.artifacts import ArtifactError, ArtifactStore
from runtime.registry import ModelRegistry


@pytest.fixture
def plan(tmp_path, monkeypatch):
    monkeypatch.setattr(orchestrator, "_builtin_kernels", up.noop_kernels)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(up.noop_plan()))
    return path


def _refused(capsys, *expected: str) -> None:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for text in expected:
        assert text in err, err


def test_a_lock_linked_out_of_the_workspace(plan, tmp_path, capsys):
    victim, workspace = tmp_path / "victim.txt", tmp_path / "ws"
    victim.write_text("keep me")
    workspace.mkdir()
    (workspace / "apply.lock").symlink_to(victim)
    assert commands.apply(str(plan), workspace) == 2
    _refused(capsys, "apply.lock is a symbolic link")
    assert victim.read_text() == "keep me"


def test_a_registry_linked_to_another_database(plan, tmp_path, capsys):
    other, workspace = tmp_path / "other.db", tmp_path / "ws"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE mine (x)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    workspace.mkdir()
    (workspace / "registry.db").symlink_to(other)
    assert commands.apply(str(plan), workspace) == 2
    _refused(capsys, "registry.db is a symbolic link")
    assert commands.runs(workspace) == 2
    _refused(capsys, "registry.db is a symbolic link")
    assert other.read_bytes() == before


def test_artifacts_linked_out_of_the_workspace(plan, tmp_path, capsys):
    elsewhere, workspace = tmp_path / "elsewhere", tmp_path / "ws"
    (elsewhere / ".tmp-precious").mkdir(parents=True)  # clean_temp would remove it
    workspace.mkdir()
    (workspace / "artifacts").symlink_to(elsewhere)
    assert commands.apply(str(plan), workspace) == 2
    _refused(capsys, "artifacts is a symbolic link")
    assert (elsewhere / ".tmp-precious").is_dir()


def test_registry_rows_never_name_a_path(tmp_path):
    store = ArtifactStore(tmp_path / "ws")
    for bad in ("../../etc", "/etc", "A" * 64, "ab" * 31, ""):
        with pytest.raises(ArtifactError, match="not an artifact address"):
            store.verify(bad)


def test_an_artifact_holding_a_link_is_refused(tmp_path):
    model, secret = tmp_path / "model", tmp_path / "secret.txt"
    model.mkdir()
    (model / "config.json").write_text("{}")
    secret.write_text("outside")
    store = ArtifactStore(tmp_path / "ws")
    sha = store.put_dir(model)
    (store.path(sha) / "config.json").unlink()
    (store.path(sha) / "config.json").symlink_to(secret)
    with pytest.raises(ArtifactError, match="symbolic link"):
        store.verify(sha)


def test_a_damaged_model_row_reruns_the_phase(tmp_path, capsys):
    """A completed phase whose model row names a path: the cache check warns and re-runs."""
    import forge_test_kernels as tk

    from runtime.orchestrator import PipelineOrchestrator

    plan = tk.make_plan(tk.CHAIN[:1])
    kernels = tk.kernels_for_tests()
    with PipelineOrchestrator(plan, tmp_path / "ws", kernels=kernels, output="quiet") as p:
        assert p.run_full_pipeline().exit_code == 0
    with ModelRegistry(tmp_path / "ws") as reg, reg._write() as c:
        c.execute("UPDATE models SET sha256 = '../../../etc'")
    capsys.readouterr()
    with PipelineOrchestrator(plan, tmp_path / "ws", kernels=kernels, output="json") as p:
        result = p.run_full_pipeline()
    assert result.exit_code == 0 and [ph.status for ph in result.phases] == ["completed"]
    # refused by its shape, before any path is made of it (a missing directory would
    # also re-run the phase, after looking outside the workspace)
    assert "is not an artifact address" in capsys.readouterr().out
