"""The local executor: items one after another in this process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


class LocalExecutor:
    """Runs ``fn`` on each item in order, in this process (the default)."""

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any],
            on_result: Callable[[int, Any], None] | None = None) -> list:
        """``[fn(x) for x in items]``, calling ``on_result(i, result)`` after each."""
        out = []
        for i, item in enumerate(items):
            out.append(fn(item))
            if on_result is not None:
                on_result(i, out[-1])
        return out

    def close(self) -> None:
        """Nothing to release."""
