"""Checkpoints of the cognate phase: one file per stage, plus a partial one mid-stage.

A stage is the shared pre-training (``pretrain``) or one specialist (``specialist<i>``).
``<stage>.pt`` holds the finished weights and the stage's last loss; ``<stage>.partial.pt``
holds weights, optimiser state, the step reached and the torch RNG state, written when a
stop is requested, so the next apply continues exactly where this one stopped. A partial
checkpoint that no longer fits the model or its optimiser (written by other code, e.g. before
a change of MuGrokfast's parameter groups) is set aside as ``<stage>.partial.stale.pt`` with
a warning, and the stage starts again from its beginning.
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

import torch


def _atomic_save(obj: dict, path: Path) -> None:
    """Write then rename, so a kill mid-write never leaves a truncated checkpoint."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def final_path(checkpoint_dir: Path, stage: str) -> Path:
    """Where a finished stage's weights live."""
    return Path(checkpoint_dir) / f"{stage}.pt"


def partial_path(checkpoint_dir: Path, stage: str) -> Path:
    """Where an interrupted stage's state lives."""
    return Path(checkpoint_dir) / f"{stage}.partial.pt"


def save_final(checkpoint_dir: Path, stage: str, model, summary: dict) -> None:
    """Record a finished stage and drop its partial checkpoint."""
    state = {"model": model.state_dict(), "summary": dict(summary)}
    _atomic_save(state, final_path(checkpoint_dir, stage))
    partial_path(checkpoint_dir, stage).unlink(missing_ok=True)


def load_final(checkpoint_dir: Path, stage: str, model) -> dict | None:
    """Load a finished stage into ``model``; its summary, or None when not finished."""
    path = final_path(checkpoint_dir, stage)
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    return state["summary"]


def save_partial(checkpoint_dir: Path, stage: str, model, optimizer, step: int) -> None:
    """Save an interrupted stage: weights, optimiser, step and RNG state."""
    _atomic_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                  "step": step, "rng": torch.get_rng_state()},
                 partial_path(checkpoint_dir, stage))


def load_partial(checkpoint_dir: Path, stage: str, model, optimizer) -> int:
    """Restore an interrupted stage into ``model``/``optimizer``; the step to resume at (0 if none)."""
    path = partial_path(checkpoint_dir, stage)
    if not path.exists():
        return 0
    state = torch.load(path, map_location="cpu", weights_only=False)
    before = copy.deepcopy(model.state_dict())
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except (KeyError, RuntimeError, ValueError) as err:  # torch's messages for a mismatch
        model.load_state_dict(before)
        stale = path.with_name(f"{stage}.partial.stale.pt")
        os.replace(path, stale)
        warnings.warn(f"cognate: the interrupted {stage} checkpoint does not fit this model "
                      f"or optimiser ({str(err).splitlines()[0]}); {stage} restarts from its "
                      f"first step (the old file is kept as {stale.name})", stacklevel=2)
        return 0
    torch.set_rng_state(state["rng"])
    return int(state["step"])
