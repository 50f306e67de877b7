"""The model registry: ``WORKSPACE/registry.db``, SQLite in WAL mode (torch-free).

Every write is one short ``BEGIN IMMEDIATE`` transaction, so a reader in another
process (``forge runs`` during an apply) never blocks the writer and never sees half
of a change: a phase run turns ``completed`` in the same transaction that records its
models, parents and final metrics. ``forge plan`` imports this module, so it must not
import torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from runtime.registry_errors import RegistryError
from runtime.registry_queries import RegistryQueries
from runtime.registry_schema import migrate
from runtime.utils.size import size_category
from runtime.workspace_layout import symlink_message, symlinked_entry

REGISTRY_FILE = "registry.db"
REGISTRY_FILES = (REGISTRY_FILE, f"{REGISTRY_FILE}-wal", f"{REGISTRY_FILE}-shm")
BUSY_TIMEOUT_S = 30.0  # a writer holds the lock for milliseconds; 30 s only covers slow disks
RUN_STATUSES = ("running", "completed", "failed", "interrupted")


@dataclass(frozen=True)
class NewModel:
    """A model to record with its phase run: its artifact hash and what we measured."""

    sha256: str
    role: str
    params: int
    size_bytes: int
    parents: tuple[int, ...] = ()  # registry ids of the models it was made from
    metrics: dict = field(default_factory=dict)  # final values, e.g. accuracy
    series: tuple[tuple[str, float, int | None], ...] = ()  # (name, value, step) curves
    details: dict = field(default_factory=dict)  # lineage details as JSON (technique, ...)


def _run_of(c: sqlite3.Connection, phase_run_id: int) -> str:
    row = c.execute("SELECT run_id FROM phase_runs WHERE id = ?", (phase_run_id,)).fetchone()
    if row is None:
        raise RegistryError(f"no phase run {phase_run_id} in this registry")
    return row[0]


def workspace_path(workspace: str | os.PathLike | None = None) -> Path:
    """The workspace directory: the argument, else ``$FORGE_WORKSPACE``, else ``./.forge``."""
    chosen = workspace or os.environ.get("FORGE_WORKSPACE") or ".forge"
    return Path(chosen).expanduser().resolve()


def fingerprint_of(completed: list[tuple]) -> str:
    """Fingerprint of the completed phase runs (the stale-plan check compares it)."""
    return hashlib.sha256(json.dumps(completed).encode()).hexdigest()


EMPTY_FINGERPRINT = fingerprint_of([])


class ModelRegistry(RegistryQueries):
    """Runs, phase runs, models, lineage, metrics, gate verdicts and events of a workspace.

    Args:
        workspace: the workspace directory (see ``workspace_path``); created when missing.
        create: when False, a workspace without a registry raises ``RegistryError``
            instead of being created (the read-only CLI commands use this).
    """

    def __init__(self, workspace: str | os.PathLike | None = None, create: bool = True):
        self.workspace = workspace_path(workspace)
        self.path = self.workspace / REGISTRY_FILE
        link = symlinked_entry(self.workspace, REGISTRY_FILES)
        if link is not None:  # sqlite would follow it and write or read another database
            raise RegistryError(symlink_message(link))
        if not create and not self.path.exists():
            raise RegistryError(f"no registry at {self.path}: nothing has been applied "
                                "in this workspace yet")
        self.workspace.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                     check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode survives any process crash (kill -9); only power loss may
        # drop the last commits, and it never corrupts the database.
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        migrate(self._conn)

    @staticmethod
    def exists(workspace: str | os.PathLike | None = None) -> bool:
        """Whether the workspace already has a registry (no file is created)."""
        return (workspace_path(workspace) / REGISTRY_FILE).exists()

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> ModelRegistry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; all or nothing."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")  # a full disk may fail here: roll back too
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the error being raised says more than this one

    def _read(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    # ------------------------------------------------------------ sessions (runs)
    def create_session(self, session_id: str, config: dict, recipe: str = "") -> None:
        """Record a new run (the design calls it a session) with its resolved config."""
        now = time.time()
        with self._write() as c:
            c.execute("INSERT INTO runs (id, recipe, config, status, pid, host, created_at, "
                      "updated_at) VALUES (?, ?, ?, 'running', ?, ?, ?, ?)",
                      (session_id, recipe, json.dumps(config, sort_keys=True), os.getpid(),
                       socket.gethostname(), now, now))

    def update_session_progress(self, session_id: str, phase: str, percent: float) -> None:
        """Record which phase a run is in and how far that phase has got (0-100)."""
        with self._write() as c:
            c.execute("UPDATE runs SET current_phase = ?, progress = ?, updated_at = ? "
                      "WHERE id = ?", (phase, float(percent), time.time(), session_id))

    def finish_session(self, session_id: str, status: str, message: str | None = None) -> None:
        """Close a run as completed, failed or interrupted."""
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        now = time.time()
        with self._write() as c:
            c.execute("UPDATE runs SET status = ?, message = ?, updated_at = ?, finished_at = ? "
                      "WHERE id = ?", (status, message, now, now, session_id))

    # ------------------------------------------------------------ phase runs
    def start_phase_run(self, run_id: str, step: dict, position: int,
                        status: str = "running", source_id: int | None = None) -> int:
        """Record a phase starting (or, with ``status='cached'``, reused); returns its id.

        Args:
            run_id: the run it belongs to.
            step: the plan step's JSON (``Step.to_json()``); its ``data`` label (the data
                the phase measures on) is kept with the phase run.
            position: its index in the plan.
            status: ``running`` or ``cached``.
            source_id: for a cached phase, the completed phase run it reuses.
        """
        now = time.time()
        done = now if status == "cached" else None
        with self._write() as c:
            cur = c.execute(
                "INSERT INTO phase_runs (run_id, name, kind, position, status, cache_key, "
                "source_id, params, seed, estimate, started_at, finished_at, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, step["name"], step["kind"], position, status, step["cache_key"],
                 source_id, json.dumps(step["params"], sort_keys=True), step["seed"],
                 json.dumps(step["estimate"], sort_keys=True), now, done, step.get("data")))
            return int(cur.lastrowid)

    def complete_phase_run(self, phase_run_id: int, models: list[NewModel], metrics: dict,
                           peak_memory_bytes: int, seconds: float,
                           input_metrics: Sequence[tuple[int, str, float]] = ()) -> list[int]:
        """Mark a phase run completed with its models and final metrics, atomically.

        ``input_metrics`` are ``(model_id, name, value)`` rows the phase measured on
        existing models (e.g. EvoMerge's fitness of its parents), written in the same
        transaction so a crash never leaves them behind a phase that did not complete.

        Returns:
            The registry ids of the new models, in order.
        """
        now = time.time()
        with self._write() as c:
            run_id = _run_of(c, phase_run_id)
            ids = [self._insert_model(c, phase_run_id, run_id, m, now) for m in models]
            for name, value in metrics.items():
                c.execute("INSERT INTO metrics (run_id, phase_run_id, name, value, created_at) "
                          "VALUES (?, ?, ?, ?, ?)", (run_id, phase_run_id, name, float(value), now))
            c.executemany("INSERT INTO metrics (run_id, phase_run_id, model_id, name, value, "
                          "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                          [(run_id, phase_run_id, model_id, name, float(value), now)
                           for model_id, name, value in input_metrics])
            c.execute("UPDATE phase_runs SET status = 'completed', peak_memory_bytes = ?, "
                      "seconds = ?, finished_at = ? WHERE id = ?",
                      (int(peak_memory_bytes), float(seconds), now, phase_run_id))
        return ids

    @staticmethod
    def _insert_model(c: sqlite3.Connection, phase_run_id: int, run_id: str, m: NewModel,
                      now: float) -> int:
        cur = c.execute("INSERT INTO models (phase_run_id, sha256, role, params, size_bytes, "
                        "size_category, created_at, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (phase_run_id, m.sha256, m.role, m.params, m.size_bytes,
                         size_category(m.params), now, json.dumps(m.details, sort_keys=True)))
        model_id = int(cur.lastrowid)
        for parent in m.parents:
            c.execute("INSERT OR IGNORE INTO model_parents (model_id, parent_id) VALUES (?, ?)",
                      (model_id, parent))
        # curves first, final values last: "the last value of a name" is the final one
        rows = list(m.series) + [(name, value, None) for name, value in m.metrics.items()]
        for name, value, step in rows:
            c.execute("INSERT INTO metrics (run_id, phase_run_id, model_id, step, name, value, "
                      "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (run_id, phase_run_id, model_id, step, name, float(value), now))
        return model_id

    def register_model(self, phase_run_id: int, sha256: str, role: str, params: int,
                       size_bytes: int, parents: tuple[int, ...] = (),
                       metrics: dict | None = None) -> int:
        """Record one model produced by a phase run (the design's API); returns its id."""
        model = NewModel(sha256, role, params, size_bytes, tuple(parents), metrics or {})
        with self._write() as c:
            run_id = _run_of(c, phase_run_id)
            return self._insert_model(c, phase_run_id, run_id, model, time.time())

    def end_phase_run(self, phase_run_id: int, status: str, error: str | None,
                      peak_memory_bytes: int | None = None, seconds: float | None = None) -> None:
        """Close a phase run that did not complete (failed or interrupted)."""
        with self._write() as c:
            c.execute("UPDATE phase_runs SET status = ?, error = ?, peak_memory_bytes = ?, "
                      "seconds = ?, finished_at = ? WHERE id = ?",
                      (status, error, peak_memory_bytes, seconds, time.time(), phase_run_id))

    def abort_run(self, run_id: str, status: str, message: str) -> None:
        """Close a run and its phase runs still 'running' in one write (after a fault)."""
        if status not in ("failed", "interrupted"):
            raise ValueError(f"an aborted run is failed or interrupted, not {status!r}")
        now = time.time()
        with self._write() as c:
            c.execute("UPDATE phase_runs SET status = ?, error = ?, finished_at = ? "
                      "WHERE run_id = ? AND status = 'running'", (status, message, now, run_id))
            c.execute("UPDATE runs SET status = ?, message = ?, updated_at = ?, finished_at = ? "
                      "WHERE id = ?", (status, message, now, now, run_id))

    def close_dead_phase_runs(self) -> int:
        """Mark phase runs left 'running' by a dead apply as interrupted; returns how many.

        Only call this while holding the workspace lock: then no phase can really be running.
        """
        with self._write() as c:
            cur = c.execute("UPDATE phase_runs SET status = 'interrupted', error = "
                            "'the process died (killed or crashed)', finished_at = ? "
                            "WHERE status = 'running'", (time.time(),))
            return cur.rowcount

    # ------------------------------------------------------------ metrics, gates, events
    def log_metric(self, run_id: str, name: str, value: float, phase_run_id: int | None = None,
                   step: int | None = None, model_id: int | None = None) -> None:
        """Record one measured value."""
        with self._write() as c:
            c.execute("INSERT INTO metrics (run_id, phase_run_id, model_id, step, name, value, "
                      "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (run_id, phase_run_id, model_id, step, name, float(value), time.time()))

    def record_gate(self, run_id: str, phase_run_id: int | None, phase: str, expression: str,
                    value: float | None, threshold: float | None, passed: bool, action: str,
                    message: str) -> None:
        """Record a gate verdict."""
        with self._write() as c:
            c.execute("INSERT INTO gate_verdicts (run_id, phase_run_id, phase, expression, value, "
                      "threshold, passed, action, message, created_at) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (run_id, phase_run_id, phase, expression, value, threshold, int(passed),
                       action, message, time.time()))

    def record_event(self, run_id: str | None, type_: str, data: dict,
                     phase: str | None = None) -> None:
        """Append an event (phase started, finished, gate verdict, warning ...)."""
        with self._write() as c:
            c.execute("INSERT INTO events (run_id, phase, type, data, created_at) "
                      "VALUES (?, ?, ?, ?, ?)",
                      (run_id, phase, type_, json.dumps(data, sort_keys=True, default=str),
                       time.time()))

    # ------------------------------------------------------------ cache and staleness
    def completed_cache_keys(self) -> dict[str, int]:
        """Map each completed cache key to its latest completed phase run id."""
        rows = self._read("SELECT cache_key, MAX(id) FROM phase_runs WHERE status = 'completed' "
                          "GROUP BY cache_key")
        return {r[0]: int(r[1]) for r in rows}

    def latest_cache_keys_by_phase(self) -> dict[str, str]:
        """Each phase name's most recently completed cache key (``forge plan`` marks a step
        whose key differs as a re-run, ``~``)."""
        rows = self._read("SELECT name, cache_key FROM phase_runs WHERE id IN (SELECT MAX(id) "
                          "FROM phase_runs WHERE status = 'completed' GROUP BY name)")
        return {r[0]: r[1] for r in rows}

    def latest_steps_by_phase(self) -> dict[str, dict]:
        """Each phase name's most recently completed step, as its run's plan recorded it
        (``kernel_version``, ``params``, ``seed``, ``inputs``): ``forge plan`` says why a
        step re-runs by comparing it with this one."""
        rows = self._read("SELECT p.name, p.run_id, r.config FROM phase_runs p JOIN runs r ON "
                          "r.id = p.run_id WHERE p.id IN (SELECT MAX(id) FROM phase_runs WHERE "
                          "status = 'completed' GROUP BY name)")
        plans: dict[str, dict] = {}  # each run's steps by name, parsed once
        for _name, run_id, config in rows:
            if run_id not in plans:
                try:
                    steps = json.loads(config).get("phases", [])
                    plans[run_id] = {s.get("name"): s for s in steps if isinstance(s, dict)}
                except (ValueError, AttributeError, TypeError, RecursionError):
                    plans[run_id] = {}  # a run config this code cannot read: no reason to give
        return {name: plans[run_id][name] for name, run_id, _c in rows if name in plans[run_id]}

    def fingerprint(self) -> str:
        """Changes whenever a phase run completes; a saved plan records it (stale check)."""
        rows = self._read("SELECT id, cache_key FROM phase_runs WHERE status = 'completed' "
                          "ORDER BY id")
        return fingerprint_of([[r[0], r[1]] for r in rows])

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` for a sound database."""
        return str(self._read("PRAGMA integrity_check")[0][0])
