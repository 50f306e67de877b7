"""One registry for the named things the tool looks up by name: phase kinds, merge
techniques (their settings here, their implementations in ``runtime.merge``), kernels,
executors, task families and MuGrokfast presets.

Each is a :class:`Registry`: ``register`` (directly or as a decorator; a name once),
``get`` (an unknown name raises the registry's error type with a did-you-mean hint),
``names`` and ``in``. Subclasses adapt what is stored (``_prepare``) and how an entry
names itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name.

    Args:
        what: the noun in messages ("merge technique", "phase kind").
        error: the exception ``get`` raises for an unknown name.
        unknown: the message head for an unknown name; ``{what}`` and ``{name}`` are filled.
        empty_hint: the hint when nothing close is registered.
        sort: ``names()`` sorted (else registration order).
    """

    def __init__(self, what: str, *, error: type[Exception] = ValueError,
                 unknown: str = "unknown {what} {name}", empty_hint: str = "",
                 sort: bool = False) -> None:
        self.what, self.error, self.unknown = what, error, unknown
        self.empty_hint, self.sort = empty_hint, sort
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: Any = None) -> Callable[[Any], Any] | Any:
        """Register ``entry`` under ``name`` and return it; without ``entry``, a decorator."""
        def add(obj):
            if name in self._entries:
                raise ValueError(f"{self.what} {name!r} registered twice")
            self._entries[name] = self._prepare(name, obj)
            return obj

        return add if entry is None else add(entry)

    def _prepare(self, name: str, obj: Any) -> T:
        """What is stored for a registered object (the object itself by default)."""
        return obj

    def get(self, name: str) -> T:
        """The entry called ``name``."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            from forgelang.diagnostics import did_you_mean

            hint = did_you_mean(str(name), self._entries) or self.empty_hint
            head = self.unknown.format(what=self.what, name=repr(name))
            raise self.error(f"{head}; {hint}".rstrip("; ")) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        """Registered names (sorted, or in registration order)."""
        return sorted(self._entries) if self.sort else list(self._entries)
