"""A duration in seconds read from an environment variable, with a default."""

from __future__ import annotations

import math
import os


def env_seconds(name: str, default: float, *, zero_allowed: bool) -> float:
    """``$name`` as seconds when it is a finite number > 0 (>= 0 when ``zero_allowed``),
    else ``default``: a malformed value never stops a run."""
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    ok = math.isfinite(value) and (value >= 0 if zero_allowed else value > 0)
    return value if ok else default
