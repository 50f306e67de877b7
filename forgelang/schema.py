"""Pydantic models of the recipe header (``recipe "name" { ... }``) and of gates."""

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from forgelang.data_files import SUITE, data_value
from forgelang.devices import BUILTIN

DEVICE_RE = re.compile(r"auto|cpu|mps|cuda|cuda:\d{1,6}")  # used with fullmatch
NAME_MAX = 256  # recipe, W&B project and entity names, Ray addresses (a saved plan's bound too)
MAX_CPUS, MAX_GPUS = 65_536, 4_096


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Budget(_Strict):
    """Limits the plan is checked against (a warning when over; an error with --strict)."""

    memory: int | None = Field(None, ge=1, description="peak memory on the device, bytes (e.g. 4GiB)")
    time: float | None = Field(None, gt=0, description="total wall time, seconds (e.g. 15m, 2h)")


class Tracking(_Strict):
    """Weights & Biases settings; offline files in the workspace by default."""

    wandb: Literal["offline", "online", "disabled"] = "offline"
    project: str = Field("agent-forge", max_length=NAME_MAX)
    entity: str | None = Field(None, max_length=NAME_MAX)


class Executor(_Strict):
    """Where fan-out work runs: in this process, or on a Ray cluster."""

    type: Literal["local", "ray"] = "local"
    address: str | None = Field(None, max_length=NAME_MAX, description='Ray address, e.g. "auto"')
    num_cpus: int | None = Field(None, ge=1, le=MAX_CPUS)
    num_gpus: float | None = Field(None, ge=0, le=MAX_GPUS)


class RecipeHeader(_Strict):
    """The ``recipe`` block: name, seed, device, budgets and the data every phase uses."""

    name: str = Field(min_length=1, max_length=NAME_MAX)
    description: str = ""
    seed: int = Field(0, ge=0, le=2**32 - 1)
    device: str = Field("auto", description="auto | cpu | mps | cuda | cuda:N")
    target: str | None = Field(None, description="device profile to plan for: "
                               + ", ".join(BUILTIN))
    data: Annotated[str, AfterValidator(data_value)] = Field(
        SUITE, description="data of every phase that does not set its own `data`: `suite` "
        "(synthetic, seeded) or a .jsonl path")
    budget: Budget = Budget()
    tracking: Tracking = Tracking()
    executor: Executor = Executor()

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if not DEVICE_RE.fullmatch(v):
            raise ValueError("device must be auto, cpu, mps, cuda or cuda:N")
        return v

    @field_validator("executor", mode="before")
    @classmethod
    def _executor_name(cls, v):
        return {"type": v} if isinstance(v, str) else v

    @field_validator("target")
    @classmethod
    def _target(cls, v: str | None) -> str | None:
        if v is not None and v not in BUILTIN:
            from forgelang.diagnostics import did_you_mean

            raise ValueError(f"unknown device profile `{v}`; "
                             + (did_you_mean(v, BUILTIN) or ""))
        return v


GATE_ACTIONS = ("stop", "warn")
