"""Estimates and model shapes: plain data the planner passes between phases.

Kept apart from the pydantic Params so that loading a saved plan needs no pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    """What the planner knows about a model flowing between phases (no weights)."""

    params: int  # parameter count
    bits_per_param: float = 32.0  # storage precision on disk
    architecture: tuple[tuple[str, object], ...] = ()  # sorted (key, value) pairs
    extra_bytes: int = 0  # tokenizer, config, codebooks ...

    @property
    def disk_bytes(self) -> int:
        return int(self.params * self.bits_per_param / 8) + self.extra_bytes

    def arch(self) -> dict:
        return dict(self.architecture)


@dataclass(frozen=True)
class Estimate:
    """The planner's forecast for one phase, computed from shapes and work sizes."""

    params: int  # parameters of the phase's output model(s), each
    peak_memory_bytes: int  # on the recipe's device (VRAM for cuda, RAM for cpu)
    flops: float
    seconds: float
    disk_bytes: int  # bytes written to the artifact store
    outputs: tuple[ModelSpec, ...] = ()
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {
            "params": self.params,
            "peak_memory_bytes": self.peak_memory_bytes,
            "flops": self.flops,
            "seconds": self.seconds,
            "disk_bytes": self.disk_bytes,
            "notes": list(self.notes),
        }
