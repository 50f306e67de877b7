"""Executors: where work that fans out (EvoMerge candidate evaluation) runs.

An executor maps a picklable function over items and returns the results in order:
``LocalExecutor`` loops in this process; ``RayExecutor`` runs one Ray task per item
(optional extra ``agent-forge[ray]``). ``make_executor`` builds one from the recipe's
``executor`` setting (``local`` or ``ray { address = "auto" }``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from runtime.executors.local import LocalExecutor
from runtime.executors.ray_executor import RAY_MISSING, RayExecutor


class Executor(Protocol):
    """Maps ``fn`` over ``items``; ``on_result(index, result)`` hears each as it finishes."""

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any],
            on_result: Callable[[int, Any], None] | None = None) -> list: ...

    def close(self) -> None: ...


class ExecutorRegistry:
    """Executor factories by name: ``register``, ``get`` (did-you-mean), ``names``."""

    def __init__(self) -> None:
        self._factories: dict[str, Callable[..., Executor]] = {}

    def register(self, name: str, factory: Callable[..., Executor] | None = None):
        """Register ``factory(**settings)``; without it, a decorator."""
        def add(obj):
            if name in self._factories:
                raise ValueError(f"executor {name!r} registered twice")
            self._factories[name] = obj
            return obj

        return add if factory is None else add(factory)

    def get(self, name: str) -> Callable[..., Executor]:
        """The factory of ``name``; ValueError with a hint when unknown."""
        try:
            return self._factories[name]
        except KeyError:
            from forgelang.diagnostics import did_you_mean

            hint = did_you_mean(name, self._factories) or ""
            raise ValueError(f"unknown executor {name!r}; {hint}".rstrip("; ")) from None

    def names(self) -> list[str]:
        """Registered executor names."""
        return list(self._factories)


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
