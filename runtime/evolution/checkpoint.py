"""The search's checkpoint: one JSON file, rewritten atomically after every generation."""

from __future__ import annotations

import json
import os
from pathlib import Path

STATE_FILE = "evomerge_state.json"
STATE_VERSION = 1


def save_state(checkpoint_dir: Path, state: dict) -> Path:
    """Write ``state`` as JSON via a temporary file and ``os.replace`` (never half-written)."""
    path = Path(checkpoint_dir) / STATE_FILE
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"version": STATE_VERSION, **state}, f, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def load_state(checkpoint_dir: Path | None) -> dict | None:
    """The saved state, or None when there is none (or it is from another format version)."""
    if checkpoint_dir is None:
        return None
    path = Path(checkpoint_dir) / STATE_FILE
    if not path.exists():
        return None
    state = json.loads(path.read_text(encoding="utf-8"))
    return state if state.get("version") == STATE_VERSION else None
