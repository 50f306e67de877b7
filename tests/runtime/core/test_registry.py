"""The SQLite registry: WAL, schema migrations, atomic phase completion, queries."""

from __future__ import annotations

import sqlite3

import pytest

from runtime.registry import EMPTY_FINGERPRINT, ModelRegistry, NewModel, RegistryError
from runtime.registry_schema import SCHEMA_VERSION, SchemaError

STEP = {"name": "a", "kind": "train", "cache_key": "k1", "params": {"x": 1}, "seed": 3,
        "estimate": {"peak_memory_bytes": 100, "seconds": 2.0}}


def _registry(workspace) -> ModelRegistry:
    return ModelRegistry(workspace)


def test_pragmas_and_schema_version(workspace):
    with _registry(workspace) as reg:
        conn = reg._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert reg.integrity_check() == "ok"
    with _registry(workspace) as reg:  # reopening migrates nothing and keeps the version
        assert reg._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_newer_schema_is_refused(workspace):
    _registry(workspace).close()
    conn = sqlite3.connect(workspace / "registry.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaError, match="newer"):
        _registry(workspace)


def test_foreign_keys_are_enforced(workspace):
    with _registry(workspace) as reg:
        with pytest.raises(sqlite3.IntegrityError):
            reg._conn.execute("INSERT INTO models (phase_run_id, sha256, role, params, "
                              "size_bytes, size_category, created_at) "
                              "VALUES (999, 'ab', 'r', 1, 1, 'tiny', 0)")
        with pytest.raises(RegistryError, match="no phase run 999"):
            reg.register_model(phase_run_id=999, sha256="ab", role="r", params=1, size_bytes=1)


def test_session_phase_models_lineage_and_show(workspace):
    with _registry(workspace) as reg:
        assert reg.fingerprint() == EMPTY_FINGERPRINT
        reg.create_session("s1", {"recipe": "x"}, recipe="x")
        reg.update_session_progress("s1", "a", 25.0)
        assert reg.runs()[0]["progress"] == 25.0 and reg.runs()[0]["current_phase"] == "a"
        p1 = reg.start_phase_run("s1", STEP, 0)
        reg.log_metric("s1", "loss", 0.5, p1, step=1)
        (m1,) = reg.complete_phase_run(p1, [NewModel("aa" * 32, "base", 50_000, 1234,
                                                     metrics={"accuracy": 0.8})],
                                       {"steps": 10.0}, peak_memory_bytes=200, seconds=1.0)
        assert reg.completed_cache_keys() == {"k1": p1}
        assert reg.latest_cache_keys_by_phase() == {"a": "k1"}
        assert reg.fingerprint() != EMPTY_FINGERPRINT
        p2 = reg.start_phase_run("s1", {**STEP, "name": "b", "cache_key": "k2"}, 1)
        m2 = reg.register_model(p2, "bb" * 32, "child", 50_000, 1000, parents=(m1,))
        reg.end_phase_run(p2, "failed", "boom")
        reg.record_gate("s1", p1, "a", "accuracy >= 0.5", 0.8, 0.5, True, "stop", "ok")
        reg.finish_session("s1", "failed", "boom")
        shown = reg.show("s1")
        lineage = reg.lineage("bb")
    assert shown["status"] == "failed"
    a = shown["phases"][0]
    assert a["measured"] == {"peak_memory_bytes": 200, "seconds": 1.0}
    assert a["ratio"]["peak_memory_bytes"] == pytest.approx(2.0)
    assert a["ratio"]["seconds"] == pytest.approx(0.5)
    assert a["metrics"] == {"loss": 0.5, "steps": 10.0}
    assert a["models"][0]["metrics"] == {"accuracy": 0.8}
    assert a["models"][0]["size_category"] == "tiny"
    assert shown["gates"] == [{"phase": "a", "expression": "accuracy >= 0.5", "value": 0.8,
                               "threshold": 0.5, "passed": True, "action": "stop",
                               "message": "ok"}]
    assert lineage["id"] == m2 and lineage["parents"][0]["id"] == m1
    assert lineage["parents"][0]["phase"] == "a"


def test_failed_completion_leaves_nothing_half_written(workspace):
    with _registry(workspace) as reg:
        reg.create_session("s1", {})
        p1 = reg.start_phase_run("s1", STEP, 0)
        bad = NewModel("aa" * 32, "base", 1, 1, parents=(12345,))  # parent does not exist
        with pytest.raises(sqlite3.IntegrityError):
            reg.complete_phase_run(p1, [NewModel("cc" * 32, "ok", 1, 1), bad], {"m": 1.0}, 1, 1)
        assert reg.completed_cache_keys() == {}
        assert reg.models() == []
        assert reg.phase_metrics(p1) == {}


def test_unknown_things_raise_clear_errors(workspace):
    with pytest.raises(RegistryError, match="nothing has been applied"):
        ModelRegistry(workspace, create=False)
    with _registry(workspace) as reg:
        with pytest.raises(RegistryError, match="no runs"):
            reg.show()
        with pytest.raises(RegistryError, match="no model"):
            reg.lineage("123")
