"""Numbers as short text for tables (shared by the report and ``forge diff``)."""

from __future__ import annotations


def number(value: float | None) -> str:
    """A metric value: 4 significant digits, ``-`` when missing."""
    return "-" if value is None else f"{value:.4g}"


def seconds_text(s: float | None) -> str:
    """Seconds as ``1.23 s``, ``4m05s`` or ``2h03m``."""
    if s is None:
        return "-"
    if s < 60:
        return f"{s:.2f} s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"
