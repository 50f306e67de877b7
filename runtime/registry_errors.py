"""The registry's error, in its own module so that ``registry`` and ``registry_queries``
both import it at the top and neither imports the other (torch-free)."""

from __future__ import annotations


class RegistryError(RuntimeError):
    """A registry request that cannot be answered (unknown run, model, workspace)."""


__all__ = ["RegistryError"]
