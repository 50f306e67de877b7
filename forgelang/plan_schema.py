"""The schema of a saved plan (``forge plan --out``): untrusted input, checked completely.

A saved plan is a file anyone may have edited, so ``forge apply`` validates every field
before anything reads it: types, ranges, identifiers, cache keys (64 lowercase hex
digits: the only thing a workspace path is ever derived from), step references and
gate conditions. ``validate_plan`` returns the data in ``Plan.from_json``'s shape or
raises ``PlanSchemaError`` with one line naming the fields that are wrong.
Torch-free, like the rest of forgelang.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from forgelang.data_label import is_label
from forgelang.plan import EXTERNAL_PREFIX, PLAN_FORMAT
from forgelang.schema import DEVICE_RE, MAX_CPUS, MAX_GPUS, NAME_MAX

INT_MAX = 2**63 - 1  # SQLite's INTEGER; every count and seed fits
MAX_STEPS = 1000
MAX_SHOWN = 3  # problems named in the one-line message; the rest are counted
_CACHE_KEY = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
HINT = "make it again with `forge plan RECIPE --out PLAN.json`"


class PlanSchemaError(ValueError):
    """A saved plan that does not fit the schema; the message is one line."""


def is_cache_key(value: object) -> bool:
    """Whether ``value`` is a cache key: exactly 64 lowercase hex digits (a sha256)."""
    return isinstance(value, str) and _CACHE_KEY.fullmatch(value) is not None


def _cache_key(value: str) -> str:
    if not is_cache_key(value):
        raise ValueError("must be 64 lowercase hex digits (a sha256)")
    return value


def _identifier(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError("must be an identifier (letters, digits, _; at most 128)")
    return value


def _format(value: int) -> int:
    if value != PLAN_FORMAT:
        raise ValueError(f"unsupported plan format {value}; this Agent Forge reads format "
                         f"{PLAN_FORMAT}")
    return value


def _device(value: str) -> str:
    if not DEVICE_RE.fullmatch(value):
        raise ValueError("must be auto, cpu, cuda, cuda:N or mps")
    return value


def _input(value: str) -> str:
    if value.startswith(EXTERNAL_PREFIX):
        path = value[len(EXTERNAL_PREFIX):]
        if not path or not path.isprintable():
            raise ValueError("`dir:` must be followed by a model directory path (printable)")
        return value
    return _identifier(value)


def _data_label(value: str) -> str:
    if not is_label(value):
        raise ValueError("must be `suite` or `file:NAME@DIGEST` (forgelang.data_label)")
    return value


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must be one line of printable text")
    return value


def _scalars(value: dict) -> dict:
    for item in value.values():
        ok = item is None or isinstance(item, (str, bool, int)) or (
            isinstance(item, float) and math.isfinite(item))
        if not ok:
            raise ValueError("values must be text, numbers or null")
    return value


def _condition(value: str) -> str:
    from forgelang.gate_condition import check_condition

    problem = check_condition(value)
    if problem:
        raise ValueError(problem)
    return value


Name = Annotated[str, AfterValidator(_identifier)]
CacheKey = Annotated[str, AfterValidator(_cache_key)]
Text = Annotated[str, Field(max_length=4096)]
Line = Annotated[str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(_printable)]
Short = Annotated[str, Field(max_length=NAME_MAX), AfterValidator(_printable)]  # may be ""
Count = Annotated[int, Field(ge=0, le=INT_MAX)]
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Seed = Annotated[int, Field(ge=0, le=INT_MAX)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class EstimateSchema(_Strict):
    params: Count
    peak_memory_bytes: Count
    flops: Amount
    seconds: Amount
    disk_bytes: Count
    notes: list[Text] = Field(default_factory=list, max_length=100)


class ForecastSchema(_Strict):
    seconds: Amount
    peak_memory_bytes: Count
    runs: Count
    source: Annotated[str, Field(max_length=200), AfterValidator(_printable)]
    seconds_low: Amount | None = None
    seconds_high: Amount | None = None
    memory_low: Count | None = None
    memory_high: Count | None = None


class StepSchema(_Strict):
    name: Name
    kind: Name
    inputs: list[Annotated[Text, AfterValidator(_input)]] = Field(max_length=MAX_STEPS)
    params: dict[str, Any]
    seed: Seed
    kernel_version: Annotated[str, Field(min_length=1, max_length=64),
                              AfterValidator(_printable)]
    cache_key: CacheKey
    action: Literal["run", "cached", "rerun"] = "run"
    reason: Annotated[str, Field(max_length=200), AfterValidator(_printable)] = ""
    # absent in plans saved before data labels: Plan.from_json labels them from `params`
    data: Annotated[str, Field(max_length=300), AfterValidator(_data_label)] | None = None
    estimate: EstimateSchema
    forecast: ForecastSchema | None = None


class GateSchema(_Strict):
    phase: Name
    expression: Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_condition)]
    on_fail: Literal["stop", "warn"] = "stop"


class BudgetSchema(_Strict):
    memory_bytes: Annotated[int, Field(ge=1, le=INT_MAX)] | None = None
    seconds: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None


class TrackingSchema(_Strict):
    wandb: Literal["offline", "online", "disabled"] = "offline"
    project: Line = "agent-forge"
    entity: Short | None = None


class ExecutorSchema(_Strict):
    type: Literal["local", "ray"] = "local"
    address: Short | None = None
    num_cpus: Annotated[int, Field(ge=1, le=MAX_CPUS)] | None = None
    num_gpus: Annotated[float, Field(ge=0, le=MAX_GPUS, allow_inf_nan=False)] | None = None


class PlanSchema(_Strict):
    format: Annotated[int, AfterValidator(_format)]
    recipe: Line
    source: Text
    seed: Seed
    device: Annotated[str, AfterValidator(_device)]
    target: Annotated[dict[str, Any], AfterValidator(_scalars)]
    budget: BudgetSchema
    tracking: TrackingSchema
    executor: ExecutorSchema
    workspace_state: CacheKey | None = None
    phases: list[StepSchema] = Field(min_length=1, max_length=MAX_STEPS)
    gates: list[GateSchema] = Field(default_factory=list, max_length=MAX_STEPS)
    totals: Annotated[dict[str, Any], AfterValidator(_scalars)] | None = None


def validate_plan(data: object, where: str = "the plan",
                  kinds: Iterable[str] | None = ()) -> dict:
    """Check a saved plan completely; its data in ``Plan.from_json``'s shape.

    Args:
        data: the parsed JSON.
        where: how messages name it (the file's path).
        kinds: phase kinds known besides ``forgelang.kinds.KINDS`` (registered kernels);
            None leaves kinds unchecked (a first check before the kernels are loaded).

    Raises:
        PlanSchemaError: one line naming every field that is wrong (the first few).
    """
    if not isinstance(data, dict):
        raise PlanSchemaError(f"{where}: a saved plan is a JSON object, not "
                              f"{_json_type(data)}; {HINT}")
    try:
        plan = PlanSchema.model_validate(data)
    except ValidationError as e:
        raise PlanSchemaError(one_line(where, field_problems(e))) from None
    problems = _graph_problems(plan, kinds)
    if problems:
        raise PlanSchemaError(one_line(where, problems))
    return plan.model_dump(exclude={"totals"})


def _graph_problems(plan: PlanSchema, kinds: Iterable[str] | None) -> list[tuple[str, str]]:
    """Unknown kinds, repeated names, inputs that are not earlier steps, stray gates."""
    from forgelang.kinds import KINDS

    known = None if kinds is None else set(KINDS.names()) | set(kinds)
    seen, problems = [], []
    for i, step in enumerate(plan.phases):
        at = f"phases[{i}]"
        if known is not None and step.kind not in known:
            problems.append((f"{at}.kind", f"unknown phase kind `{step.kind}`"))
        if step.name in seen:
            problems.append((f"{at}.name", f"`{step.name}` is already the name of a phase"))
        for j, dep in enumerate(step.inputs):
            if not dep.startswith(EXTERNAL_PREFIX) and dep not in seen:
                problems.append((f"{at}.inputs[{j}]",
                                 f"`{dep}` is not an earlier phase (nor `dir:PATH`)"))
        seen.append(step.name)
    for i, gate in enumerate(plan.gates):
        if gate.phase not in seen:
            problems.append((f"gates[{i}].phase", f"no phase `{gate.phase}` in the plan"))
    return problems


def field_problems(error: ValidationError, prefix: tuple = ()) -> list[tuple[str, str]]:
    """A pydantic error as ``(field location, message)`` pairs, each message one line."""
    return [(_location(prefix + tuple(err["loc"])), _message(err)) for err in error.errors()]


def one_line(where: str, problems: list[tuple[str, str]], hint: str = HINT) -> str:
    """One line: where, the first few problems, how many more, what to do."""
    shown = "; ".join(f"{loc}: {msg}" if loc else msg for loc, msg in problems[:MAX_SHOWN])
    more = len(problems) - MAX_SHOWN
    extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
    return f"{where}: {shown}{extra}; {hint}"


def _location(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _NAME.fullmatch(str(part)):
            out += f".{part}" if out else str(part)
        else:  # a key the user wrote: shown quoted and short, never on several lines
            out += f"[{ascii(str(part)[:40])}]"
    return out


def _message(err: dict) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "missing":
        return "missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    return " ".join((msg[:1].lower() + msg[1:]).split())[:300]


def _json_type(data: object) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(data), type(data).__name__)


__all__ = ["PlanSchema", "PlanSchemaError", "validate_plan", "is_cache_key", "field_problems",
           "one_line", "INT_MAX"]
