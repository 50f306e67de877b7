"""Size category of a model from its parameter count (torch-free)."""

from __future__ import annotations

# Our choice (the design names the categories but gives no bounds): upper bounds,
# exclusive. The smoke (~50k) and tiny (~1M) recipes are "tiny", the design's
# 25M-parameter Cognate models "small".
SIZE_THRESHOLDS: tuple[tuple[str, int], ...] = (
    ("tiny", 10_000_000),
    ("small", 100_000_000),
    ("medium", 1_000_000_000),
)


def size_category(params: int) -> str:
    """``tiny`` (<10M), ``small`` (<100M), ``medium`` (<1B) or ``large`` parameters.

    Args:
        params: the parameter count; must not be negative.
    """
    if params < 0:
        raise ValueError(f"a parameter count cannot be negative: {params}")
    for name, bound in SIZE_THRESHOLDS:
        if params < bound:
            return name
    return "large"
