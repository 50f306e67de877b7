"""Device profiles the planner estimates against.

Throughput figures for GPUs are vendor peak fp32 numbers times an efficiency that we
chose (the table below); they are planning defaults, not measurements. ``op_seconds``, the
fixed cost of one tensor op, prices the op-bound steps of small models (docs/cognate.md,
"Estimates").
``forge calibrate`` measures this machine and stores the result, which then replaces
the ``cpu`` default (and ``cuda`` when a GPU was measured).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

GiB = 2**30


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    type: str  # "cpu" | "cuda"
    peak_flops: float  # fp32 FLOP/s at best
    efficiency: float  # fraction of peak that training kernels sustain
    memory_bytes: int  # RAM for cpu, VRAM for cuda
    source: str = "default"  # "default" or "calibrated <date>"
    op_seconds: float = 1e-5  # fixed cost of one tensor op (dispatch, autograd, launch)
    base_memory_bytes: int = 0  # the apply process before a phase (0: costs.OVERHEAD_BYTES)

    @property
    def flops_per_second(self) -> float:
        return self.peak_flops * self.efficiency

    def to_json(self) -> dict:
        return asdict(self)


def _ram_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * GiB


# Efficiencies are our planning choice: small models rarely exceed ~35% of peak.
# Per-op costs too, our choice from what `forge calibrate`'s probe measured: 9.2-9.6 us on the
# 2-core development CPU; on an H200 machine 9.0 us on the GPU and 15.5-19.3 us on its host
# (a tiny Cognate step there, phase time / steps / counted ops, works out near 17 us).
# `forge calibrate` measures the machine's own.
_CUDA_OP_SECONDS = 1.5e-5
BUILTIN: dict[str, DeviceProfile] = {
    "cpu": DeviceProfile("cpu", "cpu", 1.0e11, 0.3, _ram_bytes()),
    "gtx1660": DeviceProfile("gtx1660", "cuda", 5.0e12, 0.35, 6 * GiB,
                             op_seconds=_CUDA_OP_SECONDS),
    "rtx3090": DeviceProfile("rtx3090", "cuda", 35.6e12, 0.35, 24 * GiB,
                             op_seconds=_CUDA_OP_SECONDS),
    "a100": DeviceProfile("a100", "cuda", 19.5e12, 0.4, 40 * GiB, op_seconds=_CUDA_OP_SECONDS),
    "h100": DeviceProfile("h100", "cuda", 67e12, 0.4, 80 * GiB, op_seconds=_CUDA_OP_SECONDS),
}
DEFAULT_CUDA = "gtx1660"  # the design's reference GPU (6 GB)


CALIBRATION_FILE = "calibration.json"


def user_calibration_path() -> Path:
    """The user's calibration file: ``$XDG_CONFIG_HOME`` (or ``~/.config``)
    ``/agent-forge/calibration.json``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "agent-forge" / CALIBRATION_FILE


def calibration_path(workspace: Path | str | None = None) -> Path:
    """Where calibrated profiles are read and written.

    ``$FORGE_CALIBRATION`` wins; else ``WORKSPACE/calibration.json`` when a workspace is
    given (``forge calibrate --workspace DIR`` keeps a machine's figures with that
    workspace); else the default workspace's (``$FORGE_WORKSPACE`` or ``./.forge``) file
    when it exists; else the user's file (``user_calibration_path``).
    """
    env = os.environ.get("FORGE_CALIBRATION")
    if env:
        return Path(env)
    if workspace is not None:
        return Path(workspace) / CALIBRATION_FILE
    default = Path(os.environ.get("FORGE_WORKSPACE") or ".forge") / CALIBRATION_FILE
    return default if default.is_file() else user_calibration_path()


def load_calibrated(workspace: Path | str | None = None) -> dict[str, DeviceProfile]:
    """Profiles measured by ``forge calibrate`` (empty when never run or unreadable)."""
    path = calibration_path(workspace)
    try:
        data = json.loads(path.read_text())
        return {k: DeviceProfile(**v) for k, v in data.get("profiles", {}).items()}
    except (OSError, ValueError, TypeError):
        return {}


def resolve(device: str, target: str | None = None,
            workspace: Path | str | None = None) -> DeviceProfile:
    """The profile to plan against for a recipe's ``device`` and optional ``target``
    (calibrated profiles from ``calibration_path(workspace)`` first)."""
    calibrated = load_calibrated(workspace)
    if target:
        return calibrated.get(target) or BUILTIN[target]
    if device == "auto":
        return calibrated.get("cuda") or calibrated.get("cpu") or BUILTIN["cpu"]
    if device.startswith("cuda"):
        return calibrated.get("cuda") or BUILTIN[DEFAULT_CUDA]
    return calibrated.get("cpu") or BUILTIN["cpu"]
