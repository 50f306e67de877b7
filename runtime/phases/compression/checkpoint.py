"""Each finished stage's checkpoint: its codes, shared codebooks and measurements.

A ``runtime.checkpoints`` checkpoint (safetensors + JSON, hash-verified) named
``compression.stage<i>``. On a re-run, a finished stage is rebuilt from it instead of
being encoded and measured again, so a kill at any moment costs at most the stage that
was running, and the final directory is written from the same tensors. A checkpoint that
fails verification, or holds another stage, is set aside with a warning and the stage
runs again.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

from runtime.checkpoints import (
    CheckpointError,
    discard_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from runtime.compression.codes import LayerCode
from runtime.kernels import ForgeWarning
from runtime.phases.compression.stages import Outcome

VERSION = 1


@dataclass
class StageRecord:
    """A finished stage: its outcome (None when skipped), why it was skipped, its metrics
    and the output measurement (``accuracy``, ``perplexity`` … of the model after it)."""

    outcome: Outcome | None
    skipped: str = ""
    metrics: dict = field(default_factory=dict)
    measured: dict = field(default_factory=dict)


def _name(index: int) -> str:
    return f"compression.stage{index}"


def save_stage(directory: Path, index: int, key: str, record: StageRecord) -> None:
    """Write stage ``index``'s record."""
    out = record.outcome or Outcome()
    tree = {"version": VERSION, "key": key, "skipped": record.skipped,
            "metrics": record.metrics, "measured": record.measured, "kept": list(out.kept),
            "errors": [[n, e] for n, e in out.errors.items()],
            "codes": [{"name": n, "method": c.method, "shape": list(c.shape), "meta": c.meta,
                       "tensors": dict(c.tensors)} for n, c in out.codes.items()],
            "shared": [{"name": n, "tensor": t} for n, t in out.shared.items()],
            "applied": record.outcome is not None}
    save_checkpoint(directory, _name(index), tree)


def _record(tree: dict, key: str) -> StageRecord:
    if tree.get("version") != VERSION or tree.get("key") != key:
        raise CheckpointError(f"it holds stage {tree.get('key')!r}, not {key!r}")
    outcome = None
    if tree["applied"]:
        outcome = Outcome(
            codes={c["name"]: LayerCode(c["method"], tuple(c["shape"]), dict(c["meta"]),
                                        dict(c["tensors"])) for c in tree["codes"]},
            shared={s["name"]: s["tensor"] for s in tree["shared"]},
            kept=list(tree["kept"]), errors={n: float(e) for n, e in tree["errors"]})
    return StageRecord(outcome, str(tree["skipped"]), dict(tree["metrics"]),
                       dict(tree["measured"]))


def load_stage(directory: Path, index: int, key: str) -> StageRecord | None:
    """Stage ``index``'s record, or None when it has not finished (or cannot be used)."""
    try:
        tree = load_checkpoint(directory, _name(index))
        return None if tree is None else _record(tree, key)
    except (CheckpointError, KeyError, TypeError, ValueError) as err:
        discard_checkpoint(directory, _name(index), "bad")
        warnings.warn(f"compression: the checkpoint of stage {key} cannot be used ({err}); "
                      "the stage runs again", ForgeWarning, stacklevel=2)
        return None
