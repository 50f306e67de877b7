"""What the workspace measured against what was estimated, for ``forge plan``'s forecasts.

One row per completed (not cached) phase run: its kind, its params (canonical JSON, to
find earlier runs of the same phase), the device profile the estimate was made for, and
the estimated and measured seconds and peak memory. The registry is workspace content,
so every figure is checked: a row with a non-finite or non-positive figure is left out.
Torch-free: ``forge plan`` reads it.
"""

from __future__ import annotations

import json
import math

from forgelang.plan import canonical_json

MAX_ROWS = 500  # the newest phase runs; older history adds little and costs time
# Memory counts only from runs that recorded the process peak (they also record the peak
# above the phase's start); earlier builds recorded only the growth above the start.
_SQL = ("SELECT p.kind, p.params, p.estimate, p.seconds, p.peak_memory_bytes, "
        "EXISTS (SELECT 1 FROM metrics m WHERE m.phase_run_id = p.id AND "
        "m.name = 'memory_above_start_bytes') AS process_peak, "
        "json_extract(r.config, '$.target.name') AS profile, "
        "json_extract(r.config, '$.target.source') AS source "
        "FROM phase_runs p JOIN runs r ON r.id = p.run_id "
        "WHERE p.status = 'completed' AND p.seconds IS NOT NULL ORDER BY p.id DESC LIMIT ?")


def _positive(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _row(r) -> dict | None:
    try:
        estimate = json.loads(r["estimate"])
        params = canonical_json(json.loads(r["params"]))
    except (TypeError, ValueError, RecursionError):
        return None
    if not isinstance(estimate, dict):
        return None
    figures = {"estimated_seconds": _positive(estimate.get("seconds")),
               "estimated_memory": _positive(estimate.get("peak_memory_bytes")),
               "seconds": _positive(r["seconds"]),
               "memory": _positive(r["peak_memory_bytes"]) if r["process_peak"] else None}
    if figures["estimated_seconds"] is None or figures["seconds"] is None:
        return None
    return {"kind": str(r["kind"]), "params": params, "profile": str(r["profile"]),
            "profile_source": str(r["source"] or "default"), **figures}


def measured_history(registry, limit: int = MAX_ROWS) -> list[dict]:
    """The newest ``limit`` completed phase runs as checked rows, newest first."""
    rows = registry._read(_SQL, (limit,))
    return [row for row in map(_row, rows) if row is not None]
