"""The environment of the subprocesses that tests start."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def repo_pythonpath() -> str:
    """PYTHONPATH for a subprocess: the checkout first, then whatever the caller had
    (packages installed with ``pip --target`` are found through it)."""
    return os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
