"""The registry's SQLite schema and its migrations (torch-free).

The schema version lives in ``PRAGMA user_version``. ``MIGRATIONS[i]`` takes a
database from version ``i`` to ``i + 1``; each runs in one transaction, so a crash
leaves the database at the old version or the new one, never in between.
"""

from __future__ import annotations

import sqlite3

_V1 = """
CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    recipe        TEXT NOT NULL DEFAULT '',
    config        TEXT NOT NULL,             -- the resolved plan as JSON
    status        TEXT NOT NULL CHECK (status IN
                  ('running', 'completed', 'failed', 'interrupted')),
    current_phase TEXT,
    progress      REAL NOT NULL DEFAULT 0,   -- percent of the current phase
    message       TEXT,
    pid           INTEGER,
    host          TEXT,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    finished_at   REAL
);

CREATE TABLE phase_runs (
    id                INTEGER PRIMARY KEY,
    run_id            TEXT NOT NULL REFERENCES runs(id),
    name              TEXT NOT NULL,
    kind              TEXT NOT NULL,
    position          INTEGER NOT NULL,
    status            TEXT NOT NULL CHECK (status IN
                      ('running', 'completed', 'failed', 'interrupted', 'cached')),
    cache_key         TEXT NOT NULL,
    source_id         INTEGER REFERENCES phase_runs(id),  -- the completed run a cached one reuses
    params            TEXT NOT NULL,
    seed              INTEGER NOT NULL,
    estimate          TEXT NOT NULL,
    peak_memory_bytes INTEGER,
    seconds           REAL,
    error             TEXT,
    started_at        REAL NOT NULL,
    finished_at       REAL
);
CREATE INDEX phase_runs_by_key ON phase_runs (cache_key, status);
CREATE INDEX phase_runs_by_run ON phase_runs (run_id, position);

CREATE TABLE models (
    id            INTEGER PRIMARY KEY,
    phase_run_id  INTEGER NOT NULL REFERENCES phase_runs(id),
    sha256        TEXT NOT NULL,
    role          TEXT NOT NULL,
    params        INTEGER NOT NULL,
    size_bytes    INTEGER NOT NULL,
    size_category TEXT NOT NULL,
    created_at    REAL NOT NULL
);
CREATE INDEX models_by_sha ON models (sha256);

CREATE TABLE model_parents (
    model_id  INTEGER NOT NULL REFERENCES models(id),
    parent_id INTEGER NOT NULL REFERENCES models(id),
    PRIMARY KEY (model_id, parent_id)
);

CREATE TABLE metrics (
    id           INTEGER PRIMARY KEY,
    run_id       TEXT NOT NULL REFERENCES runs(id),
    phase_run_id INTEGER REFERENCES phase_runs(id),
    model_id     INTEGER REFERENCES models(id),
    step         INTEGER,
    name         TEXT NOT NULL,
    value        REAL NOT NULL,
    created_at   REAL NOT NULL
);
CREATE INDEX metrics_by_phase ON metrics (phase_run_id, name);
CREATE INDEX metrics_by_model ON metrics (model_id, name);

CREATE TABLE gate_verdicts (
    id           INTEGER PRIMARY KEY,
    run_id       TEXT NOT NULL REFERENCES runs(id),
    phase_run_id INTEGER REFERENCES phase_runs(id),
    phase        TEXT NOT NULL,
    expression   TEXT NOT NULL,
    value        REAL,
    threshold    REAL,
    passed       INTEGER NOT NULL,
    action       TEXT NOT NULL,
    message      TEXT NOT NULL,
    created_at   REAL NOT NULL
);

CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    run_id     TEXT REFERENCES runs(id),
    phase      TEXT,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX events_by_run ON events (run_id, id);
"""

# v2: a model's lineage details as JSON (e.g. EvoMerge's technique, settings, weights,
# slices/path), for what metrics (numbers only) cannot hold.
_V2 = """
ALTER TABLE models ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
"""

# v3: the data a phase trained and measured on (forgelang.data_label: `suite` or
# `file:NAME@DIGEST`), so metrics measured on different data are never compared. NULL on
# rows recorded before: the queries fall back to the phase's `data` parameter.
_V3 = """
ALTER TABLE phase_runs ADD COLUMN data TEXT;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaError(RuntimeError):
    """The database was written by a newer Agent Forge than this one."""


def migrate(conn: sqlite3.Connection) -> int:
    """Bring ``conn``'s database up to ``SCHEMA_VERSION``; returns the version found.

    Args:
        conn: a connection in autocommit mode (``isolation_level=None``).

    Raises:
        SchemaError: the database is newer than this code understands.
    """
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise SchemaError(f"registry schema version {found} is newer than this Agent Forge "
                          f"supports ({SCHEMA_VERSION}); upgrade agent-forge")
    for version in range(found, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # re-read inside the write lock: another process may have migrated meanwhile
            if conn.execute("PRAGMA user_version").fetchone()[0] > version:
                conn.execute("COMMIT")
                continue
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (executescript would commit early)."""
    out, buf = [], []
    for line in script.splitlines():
        buf.append(line.split("--", 1)[0])
        if sqlite3.complete_statement("\n".join(buf)):
            out.append("\n".join(buf).strip())
            buf = []
    return [s for s in out if s.strip(" ;\n")]
