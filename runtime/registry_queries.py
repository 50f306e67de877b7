"""Read-side queries of the registry: what ``forge runs/show/models/lineage`` print.

Each public query reads inside one SQLite read transaction so that, in WAL mode, it
sees one consistent snapshot even while an apply writes.
"""

from __future__ import annotations

import json
import sqlite3

from forgelang.data_label import label_of, same_data
from runtime.registry_errors import RegistryError

MAX_LINEAGE_DEPTH = 200  # a pipeline has 8 phases; deeper means a damaged parent chain
MAX_LINEAGE_NODES = 10_000  # a hand-made diamond chain would otherwise grow as 2**depth
RECOVERY = "see docs/runtime.md, \"Recovering a workspace\""


class RegistryQueries:
    """Mixin of read queries over ``self._read`` (see ``ModelRegistry``)."""

    def _read(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:  # pragma: no cover
        raise NotImplementedError

    def _snapshot(self):
        """A read transaction: every query inside sees the same committed state."""
        return _Snapshot(self)

    # ------------------------------------------------------------ runs
    def runs(self) -> list[dict]:
        """Every run, newest first, with phase counts: ``phases`` is how many phases the run
        set out to run (its ``run_started`` event), not only those that had started."""
        with self._snapshot():
            rows = self._read(
                "SELECT r.*, (SELECT COUNT(*) FROM phase_runs p WHERE p.run_id = r.id) AS phases,"
                " (SELECT COUNT(*) FROM phase_runs p WHERE p.run_id = r.id AND p.status IN "
                "('completed', 'cached')) AS done FROM runs r ORDER BY r.created_at DESC, r.id")
            planned = self._planned_steps()
        keys = ("id", "status", "recipe", "current_phase", "progress", "message", "pid", "host",
                "created_at", "finished_at", "phases", "done")
        return [{**{k: r[k] for k in keys}, "phases": max(r["phases"], planned.get(r["id"], 0))}
                for r in rows]

    def _planned_steps(self) -> dict[str, int]:
        """Each run's number of selected steps, from its ``run_started`` event."""
        counts = {}
        for run_id, data in self._read("SELECT run_id, data FROM events WHERE type = "
                                       "'run_started'"):
            try:
                steps = json.loads(data).get("steps")
            except (ValueError, AttributeError, RecursionError):
                continue  # a damaged event: the count of started phases stands
            if isinstance(steps, list):
                counts[run_id] = len(steps)
        return counts

    def latest_run_id(self) -> str | None:
        """The id of the newest run, or None when there is none."""
        rows = self._read("SELECT id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1")
        return rows[0][0] if rows else None

    def show(self, run_id: str | None = None) -> dict:
        """One run with its phases, estimates vs measured figures, metrics, models, gates."""
        with self._snapshot():
            run_id = run_id or self.latest_run_id()
            run = self._read("SELECT * FROM runs WHERE id = ?", (run_id,)) if run_id else []
            if not run:
                raise RegistryError(f"no run {run_id!r} in this workspace" if run_id
                                    else "no runs in this workspace yet")
            phases = [self._phase_json(p) for p in self._read(
                "SELECT * FROM phase_runs WHERE run_id = ? ORDER BY position, id", (run_id,))]
            gates = self._read("SELECT * FROM gate_verdicts WHERE run_id = ? ORDER BY id",
                               (run_id,))
        r = run[0]
        return {"run_id": r["id"], "status": r["status"], "recipe": r["recipe"],
                "message": r["message"], "created_at": r["created_at"],
                "finished_at": r["finished_at"], "phases": phases,
                "gates": [{"phase": g["phase"], "expression": g["expression"],
                           "value": g["value"], "threshold": g["threshold"],
                           "passed": bool(g["passed"]), "action": g["action"],
                           "message": g["message"]} for g in gates]}

    def _one(self, sql: str, key, what: str) -> sqlite3.Row:
        """The row a registry reference points at; a dangling one is a RegistryError."""
        rows = self._read(sql, (key,))
        if not rows:
            raise RegistryError(f"the registry refers to {what} {key!r}, which is not there: "
                                f"the registry is damaged; {RECOVERY}")
        return rows[0]

    def _phase_json(self, p: sqlite3.Row) -> dict:
        # a cached phase shows what the phase run it reuses measured and produced
        source = p["source_id"] or p["id"]
        src = self._one("SELECT * FROM phase_runs WHERE id = ?", source, "phase run")
        estimate = row_json(p["estimate"], f"phase run {p['id']}", dict)
        measured = {"peak_memory_bytes": src["peak_memory_bytes"], "seconds": src["seconds"]}
        return {"id": p["id"], "name": p["name"], "kind": p["kind"], "status": p["status"],
                "cache_key": p["cache_key"], "source_phase_run": p["source_id"],
                "data": data_label_of(src),
                "seed": p["seed"], "params": row_json(p["params"], f"phase run {p['id']}", dict), "error": p["error"],
                "estimate": estimate, "measured": measured,
                "ratio": _ratios(estimate, measured),
                "metrics": self.phase_metrics(source), "models": self.phase_models(source)}

    def phase_metrics(self, phase_run_id: int) -> dict:
        """The phase-level metrics of a phase run (the last value of each name)."""
        rows = self._read("SELECT name, value FROM metrics WHERE phase_run_id = ? AND "
                          "model_id IS NULL ORDER BY id", (phase_run_id,))
        return {r["name"]: r["value"] for r in rows}

    def phase_models(self, phase_run_id: int) -> list[dict]:
        """The models a phase run produced, with their metrics and parents."""
        rows = self._read("SELECT * FROM models WHERE phase_run_id = ? ORDER BY id",
                          (phase_run_id,))
        return [self._model_json(m) for m in rows]

    def _model_json(self, m: sqlite3.Row) -> dict:
        metrics = self._read("SELECT name, value FROM metrics WHERE model_id = ? ORDER BY id",
                             (m["id"],))
        parents = self._read("SELECT parent_id FROM model_parents WHERE model_id = ? "
                             "ORDER BY parent_id", (m["id"],))
        phase = self._one("SELECT data, params FROM phase_runs WHERE id = ?",
                          m["phase_run_id"], "phase run")
        return {"id": m["id"], "role": m["role"], "sha256": m["sha256"], "params": m["params"],
                "size_bytes": m["size_bytes"], "size_category": m["size_category"],
                "data": data_label_of(phase),  # what its metrics were measured on
                "parents": [r[0] for r in parents],
                "metrics": {r["name"]: r["value"] for r in metrics},
                "details": row_json(m["details"] or "{}", f"model {m['id']}", dict)}

    def final_model_metrics(self, model_id: int) -> tuple[dict, list[str]]:
        """A model's final values (recorded without a step) and the names of its curves
        (recorded per step, e.g. the training loss), each name once."""
        rows = self._read("SELECT name, value, step FROM metrics WHERE model_id = ? "
                          "ORDER BY id", (model_id,))
        final = {r["name"]: r["value"] for r in rows if r["step"] is None}
        curves = sorted({r["name"] for r in rows if r["step"] is not None} - set(final))
        return final, curves

    def completed_phase(self, cache_key: str) -> dict | None:
        """The latest completed phase run with this cache key, with its models."""
        rows = self._read("SELECT * FROM phase_runs WHERE cache_key = ? AND status = "
                          "'completed' ORDER BY id DESC LIMIT 1", (cache_key,))
        if not rows:
            return None
        return {"id": rows[0]["id"], "name": rows[0]["name"], "run_id": rows[0]["run_id"],
                "models": self.phase_models(rows[0]["id"]),
                "metrics": self.phase_metrics(rows[0]["id"])}

    # ------------------------------------------------------------ models and lineage
    def models(self) -> list[dict]:
        """Every model, newest first, with the phase and run that made it."""
        with self._snapshot():
            rows = self._read("SELECT m.*, p.name AS phase, p.run_id AS run_id FROM models m "
                              "JOIN phase_runs p ON p.id = m.phase_run_id ORDER BY m.id DESC")
            return [{**self._model_json(m), "phase": m["phase"], "run_id": m["run_id"],
                     "created_at": m["created_at"]} for m in rows]

    def find_model(self, ref: str | int) -> sqlite3.Row:
        """A model by registry id or by (a unique prefix of) its sha256."""
        text = str(ref).strip()
        if text.isdigit():
            rows = self._read("SELECT * FROM models WHERE id = ?", (int(text),))
        else:
            rows = self._read("SELECT * FROM models WHERE sha256 LIKE ? ORDER BY id DESC",
                              (text.lower() + "%",))
            if len({r["sha256"] for r in rows}) > 1:
                raise RegistryError(f"model prefix {text!r} is ambiguous; give more characters")
        if not rows or not text:
            raise RegistryError(f"no model {text!r} in this workspace (see `forge models`)")
        return rows[0]

    def lineage(self, ref: str | int) -> dict:
        """A model and, recursively, the models it was made from."""
        with self._snapshot():
            return self._lineage_node(self.find_model(ref), set(), [0])

    def _lineage_node(self, m: sqlite3.Row, seen: set[int], shown: list[int]) -> dict:
        shown[0] += 1  # nodes in the whole tree: shared ancestors repeat under each child
        if len(seen) >= MAX_LINEAGE_DEPTH or shown[0] > MAX_LINEAGE_NODES:
            raise RegistryError(f"model {m['id']}'s lineage is deeper than {MAX_LINEAGE_DEPTH} "
                                f"or larger than {MAX_LINEAGE_NODES} models: the registry is "
                                f"damaged; {RECOVERY}")
        phase = self._one("SELECT name, kind, run_id FROM phase_runs WHERE id = ?",
                          m["phase_run_id"], "phase run")
        node = {**self._model_json(m), "phase": phase["name"], "kind": phase["kind"],
                "run_id": phase["run_id"], "parents": []}
        seen = seen | {m["id"]}
        for (parent_id,) in self._read("SELECT parent_id FROM model_parents WHERE model_id = ? "
                                       "ORDER BY parent_id", (m["id"],)):
            if parent_id in seen:  # lineage is a DAG; guard anyway against a bad row
                continue
            parent = self._one("SELECT * FROM models WHERE id = ?", parent_id, "model")
            branch = self._lineage_node(parent, seen, shown)
            # a parent's accuracy compares with its child's only when both used one data set
            branch["same_data_as_child"] = same_data(branch["data"], node["data"])
            node["parents"].append(branch)
        return node


def data_label_of(phase_run: sqlite3.Row) -> str | None:
    """The data a phase run measured on (``forgelang.data_label``): its ``data`` column,
    else (a row recorded before the column existed) its ``data`` parameter's label,
    without the content digest; None when neither says."""
    if phase_run["data"] is not None:
        return str(phase_run["data"])
    try:
        value = json.loads(phase_run["params"]).get("data")
    except (TypeError, ValueError, AttributeError, RecursionError):
        return None
    return label_of(value) if isinstance(value, str) else None


def row_json(text, what: str, kind: type = dict):
    """A JSON column of a registry row, of type ``kind``; a damaged one is a RegistryError
    (the workspace is untrusted input: a bad row ends in one line, never a traceback)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        value = None
    if not isinstance(value, kind):
        raise RegistryError(f"{what} in the registry is damaged (a JSON column does not hold "
                            f"a {kind.__name__}); {RECOVERY}")
    return value


def _ratios(estimate: dict, measured: dict) -> dict:
    """measured / estimated for memory and time (None when either is missing or zero)."""
    out = {}
    for key in ("peak_memory_bytes", "seconds"):
        est, got = estimate.get(key), measured.get(key)
        out[key] = (got / est) if est and got is not None else None
    return out


class _Snapshot:
    """BEGIN ... COMMIT around several reads (re-entrant: nested use is a no-op)."""

    def __init__(self, registry) -> None:
        self.registry = registry
        self.owner = False

    def __enter__(self):
        self.registry._lock.acquire()
        conn = self.registry._conn
        if not conn.in_transaction:
            conn.execute("BEGIN")
            self.owner = True
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.owner:
                self.registry._conn.execute("COMMIT")
        finally:
            self.registry._lock.release()
