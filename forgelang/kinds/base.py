"""The contract of a phase kind: a pydantic Params model, the metrics it produces,
and a pure-arithmetic estimate function. The runtime adds the kernel that runs it.

Adding a kind = one module in this package (Params + estimate + registration), one
kernel in runtime/phases, one test module and the docs.

Modules that define Params models evaluate their annotations eagerly (no
``from __future__ import annotations``): pydantic then reads real types instead of
compiling and evaluating each annotation string, which a cold ``forge plan`` feels.
"""

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from forgelang.devices import DeviceProfile
from forgelang.estimate import Estimate, ModelSpec  # noqa: F401  (re-exported)
from forgelang.registry import Registry


class Params(BaseModel):
    """Base of every phase kind's parameters: unknown keys are errors, models are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True,
                              defer_build=True)  # schemas build on first use: fast import


@dataclass(frozen=True)
class EstimateContext:
    """What an estimate function may look at besides its own params."""

    device: DeviceProfile
    inputs: tuple[ModelSpec, ...] = ()  # output models of the input phases, in order
    seed: int = 0


@dataclass(frozen=True)
class Kind:
    """A phase kind as the language sees it."""

    name: str
    summary: str
    params: type[Params]
    estimate: Callable[[Params, EstimateContext], Estimate]
    metrics: tuple[str, ...]  # glob patterns of metric names it records, e.g. "accuracy.*"
    inputs: tuple[int, int | None] = (1, 1)  # (min, max) input models; None = unbounded
    version: str = "1"  # bump when the kernel's results change; part of the cache key
    aliases: tuple[str, ...] = field(default=())
    # (code, message) warnings `forge plan` shows for a step, from its params and inputs
    plan_warnings: Callable[[Params, EstimateContext], tuple[tuple[str, str], ...]] | None = None
    # whether its kernel trains and measures on a JSONL `data` file (else the suite only:
    # `forge plan` refuses a file, E074, rather than apply failing when it gets there)
    jsonl_data: bool = False

    def produces(self, metric: str) -> bool:
        return any(fnmatch.fnmatchcase(metric, pat) for pat in self.metrics + COMMON_METRICS)


# Recorded by the runtime for every phase that outputs a model (see docs/phases.md).
COMMON_METRICS = ("retention", "cumulative_retention", "params", "disk_bytes", "seconds",
                  "peak_memory_bytes", "memory_above_start_bytes", "accuracy", "accuracy.*",
                  "perplexity", "input_data_differs")


class KindRegistry(Registry[Kind]):
    """Phase kinds by name; ``register(kind)`` takes the name from the kind."""

    def __init__(self) -> None:
        super().__init__("phase kind", error=KeyError)

    def register(self, kind: Kind) -> Kind:  # type: ignore[override]
        return super().register(kind.name, kind)


def _expression_source(value):
    """Numbers are constant expressions; anything else must be expression source text."""
    if isinstance(value, bool):
        raise ValueError("expected an expression, got a boolean")
    if isinstance(value, (int, float)):
        return repr(value)
    if not isinstance(value, str):
        raise ValueError("expected an expression such as `0.9 * accuracy + 0.1 * diversity`")
    return value


# A runtime expression over metric names, kept as canonical source text. The compiler
# checks its names against the metrics the phase produces; the runtime evaluates it
# with forgelang.expressions.evaluate on measured metrics.
Expression = Annotated[str, BeforeValidator(_expression_source)]
