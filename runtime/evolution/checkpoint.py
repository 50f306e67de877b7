"""The search's checkpoint, rewritten after every generation: a ``runtime.checkpoints``
checkpoint (JSON beside an empty tensors file, hash-verified, written atomically).

A checkpoint that fails verification, is of another format version, or does not hold a
search state is set aside with a warning, and the search starts afresh: a bad checkpoint
costs time, never a wrong champion.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from runtime.checkpoints import (
    CheckpointError,
    discard_checkpoint,
    load_checkpoint,
    manifest_path,
    save_checkpoint,
)
from runtime.kernels import ForgeWarning

STATE_NAME = "evomerge_state"
STATE_FILE = f"{STATE_NAME}.json"
STATE_VERSION = 2  # 1 was a bare JSON file without hashes


def save_state(checkpoint_dir: Path, state: dict) -> Path:
    """Write ``state`` (JSON values only) as the search's checkpoint."""
    save_checkpoint(checkpoint_dir, STATE_NAME, {"version": STATE_VERSION, **state})
    return manifest_path(checkpoint_dir, STATE_NAME)


def discard_state(checkpoint_dir: Path, why: str) -> None:
    """Set a checkpoint that cannot be used aside (``<name>.bad.json``), with a warning."""
    discard_checkpoint(checkpoint_dir, STATE_NAME, "bad")
    warnings.warn(f"evomerge: the search checkpoint cannot be used ({why}); the search "
                  "starts again from generation 0", ForgeWarning, stacklevel=3)


def load_state(checkpoint_dir: Path | None) -> dict | None:
    """The saved state, or None when there is none or it cannot be used."""
    if checkpoint_dir is None:
        return None
    try:
        state = load_checkpoint(checkpoint_dir, STATE_NAME)
    except CheckpointError as err:
        discard_state(checkpoint_dir, str(err))
        return None
    if state is not None and state.get("version") != STATE_VERSION:
        discard_state(checkpoint_dir, f"format version {state.get('version')!r}")
        return None
    return state
