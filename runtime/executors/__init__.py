"""Executors: where work that fans out (EvoMerge candidate evaluation) runs.

An executor maps a picklable function over items and returns the results in order:
``LocalExecutor`` loops in this process; ``RayExecutor`` runs one Ray task per item
(optional extra ``agent-forge[ray]``). ``make_executor`` builds one from the recipe's
``executor`` setting (``local`` or ``ray { address = "auto" }``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from forgelang.registry import Registry
from runtime.executors.local import LocalExecutor
from runtime.executors.ray_executor import RAY_MISSING, RayExecutor


class Executor(Protocol):
    """Maps ``fn`` over ``items``; ``on_result(index, result)`` hears each as it finishes."""

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any],
            on_result: Callable[[int, Any], None] | None = None) -> list: ...

    def close(self) -> None: ...


class ExecutorRegistry(Registry[Callable[..., Executor]]):
    """Executor factories ``factory(**settings)`` by name."""

    def __init__(self) -> None:
        super().__init__("executor")


EXECUTORS = ExecutorRegistry()
EXECUTORS.register("local", LocalExecutor)
EXECUTORS.register("ray", RayExecutor)


def make_executor(spec) -> Executor:
    """An executor from a recipe setting: a pydantic block, a ``{"type": ...}`` dict or a name."""
    if isinstance(spec, str):
        spec = {"type": spec}
    data = spec.model_dump() if hasattr(spec, "model_dump") else dict(spec)
    name = data.pop("type")
    return EXECUTORS.get(name)(**data)


__all__ = ["EXECUTORS", "RAY_MISSING", "Executor", "ExecutorRegistry", "LocalExecutor",
           "RayExecutor", "make_executor"]
