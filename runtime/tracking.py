"""Weights & Biases tracking: the registry's metrics, mirrored, offline by default.

``plan.tracking = {"wandb": "offline" | "online" | "disabled", "project": NAME}``.
Offline runs write their files to ``WORKSPACE/runs/<run>/wandb`` and need no network.
Metric names are namespaced ``<phase>/<name>``; the resolved plan is the run config.
W&B missing or failing never breaks an apply: the tracker turns itself off with a
warning, and the registry still has every metric.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

MODES = ("offline", "online", "disabled")
DEFAULT_PROJECT = "agent-forge"


class Tracker:
    """One W&B run per apply; every method is a no-op once disabled.

    Args:
        tracking: the plan's tracking block.
        run_dir: ``WORKSPACE/runs/<run>``; offline files go to ``run_dir/wandb``.
        warn: called with a message when W&B is missing or fails.
    """

    def __init__(self, tracking: dict | None, run_dir: Path, warn: Callable[[str], None]):
        tracking = tracking or {}
        self.mode = str(tracking.get("wandb", "offline"))
        if self.mode not in MODES:
            raise ValueError(f"tracking.wandb must be one of {', '.join(MODES)}, "
                             f"not {self.mode!r}")
        self.project = str(tracking.get("project") or DEFAULT_PROJECT)
        self.run_dir = Path(run_dir)
        self.warn = warn
        self._run = None

    @property
    def active(self) -> bool:
        """Whether metrics are being sent to W&B."""
        return self._run is not None

    def start(self, run_id: str, config: dict) -> None:
        """Open the W&B run (offline: files only, no network)."""
        if self.mode == "disabled":
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        os.environ["WANDB_DIR"] = str(self.run_dir)
        os.environ["WANDB_MODE"] = self.mode
        os.environ.setdefault("WANDB_SILENT", "true")
        try:
            import wandb

            self._run = wandb.init(project=self.project, name=run_id, id=run_id,
                                   dir=str(self.run_dir), mode=self.mode, config=config)
        except Exception as e:  # any W&B failure must not stop the apply
            self._fail(f"W&B could not start ({type(e).__name__}: {e})")

    def log(self, phase: str, metrics: dict, step: int | None = None) -> None:
        """Log metrics as ``<phase>/<name>``."""
        if self._run is None:
            return
        try:
            data = {f"{phase}/{name}": value for name, value in metrics.items()}
            if step is not None:
                data[f"{phase}/step"] = step
            self._run.log(data)
        except Exception as e:
            self._fail(f"W&B logging failed ({type(e).__name__}: {e})")

    def finish(self, exit_code: int = 0) -> None:
        """Close the W&B run."""
        if self._run is None:
            return
        try:
            self._run.finish(exit_code=exit_code)
        except Exception as e:
            self.warn(f"W&B did not close cleanly ({type(e).__name__}: {e})")
        self._run = None

    def _fail(self, message: str) -> None:
        self._run = None
        self.warn(message + "; tracking to W&B is off for this run, the registry has "
                  "every metric")
