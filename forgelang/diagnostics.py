"""Diagnostics: every problem a user can cause, with a code, a span and a hint.

Rendered like a compiler's: ``FILE:LINE:COL: error[CODE]: message``, the source line
with the span underlined, then a hint. ``to_json`` gives the same data with ranges.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from forgelang.control_chars import printable
from forgelang.source import Source, Span

# code -> short title. docs/diagnostics.md is generated from this table.
CODES: dict[str, str] = {
    "E001": "syntax error: unexpected token",
    "E002": "syntax error: unexpected character",
    "E003": "syntax error: unexpected end of file",
    "E004": "nesting too deep",
    "E005": "file too large",
    "E006": "file is not UTF-8 text",
    "E007": "cannot read file",
    "E008": "control character in a recipe",
    "E010": "missing or unsupported language version",
    "E011": "missing recipe block",
    "E012": "statement not allowed here",
    "E020": "unknown phase kind",
    "E021": "unknown parameter",
    "E022": "wrong type",
    "E023": "value out of range",
    "E024": "missing required parameter",
    "E025": "invalid value",
    "E030": "duplicate name",
    "E040": "import not found",
    "E041": "import cycle",
    "E042": "import outside the recipe's folder tree",
    "E050": "unknown preset",
    "E051": "preset inheritance cycle",
    "E060": "gate on an unknown phase",
    "E061": "gate names a metric the phase does not produce",
    "E062": "gate condition is not a comparison",
    "E070": "input names an unknown phase",
    "E071": "phase inputs form a cycle",
    "E072": "wrong number of inputs",
    "E073": "data file cannot be read",
    "E074": "phase kind cannot use a JSONL data file (the synthetic suite only)",
    "E080": "unknown merge technique",
    "E090": "invalid expression",
    "E091": "unknown name in expression",
    "E092": "value too large (elements, nesting, text or integer size)",
    "E100": "invalid --set override",
    "E110": "plan over budget (--strict)",
    "W001": "plan over budget",
    "W002": "unused preset or variable",
    "W003": "memory budget in decimal units (GB, MB: powers of 1000)",
    "W004": "compression stage would not make its input smaller (it will be skipped)",
}


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a recipe."""

    code: str
    message: str
    span: Span | None = None
    hint: str | None = None

    @property
    def severity(self) -> str:
        return "warning" if self.code.startswith("W") else "error"

    def to_json(self) -> dict:
        return {
            "severity": self.severity,
            "code": self.code,
            "title": CODES.get(self.code, ""),
            "message": self.message,
            "hint": self.hint,
            "range": self.span.to_json() if self.span else None,
        }

    def render(self, sources: dict[str, Source] | None = None) -> str:
        """Human form: location line, source line with the span underlined, hint.
        Control characters from the recipe or its path are shown as escapes."""
        where = f"{self.span.file}:{self.span.line}:{self.span.col}: " if self.span else ""
        lines = [printable(f"{where}{self.severity}[{self.code}]: {self.message}")]
        src = (sources or {}).get(self.span.file) if self.span else None
        if src is not None:
            lines.extend(_excerpt(src, self.span))
        if self.hint:
            lines.append(printable(f"  = hint: {self.hint}"))
        return "\n".join(lines)


def _excerpt(src: Source, span: Span) -> list[str]:
    text = src.line_text(span.line).expandtabs(1)
    if len(text) > 200:  # keep minified / huge lines readable
        lo = max(0, span.col - 60)
        text, shift = text[lo : lo + 160], lo
    else:
        shift = 0
    width = (span.end_col - span.col) if span.end_line == span.line else len(text) - span.col + 1
    start, count = span.col - 1 - shift, max(1, min(width, len(text) + 1))
    # escapes widen the line: underline the escaped text of the span
    pad = len(printable(text[:start]))
    count = len(printable(text[start:start + count])) + max(0, start + count - len(text))
    gutter = f"{span.line:>4} | "
    under = " " * pad + "^" * max(1, count)
    return [gutter + printable(text), " " * (len(gutter) - 2) + "| " + under]


class DiagnosticError(Exception):
    """Raised when a recipe has errors; carries every diagnostic found."""

    def __init__(self, diagnostics: Iterable[Diagnostic], sources: dict[str, Source] | None = None):
        self.diagnostics = list(diagnostics)
        self.sources = sources or {}
        super().__init__(self.render())

    def render(self) -> str:
        return "\n\n".join(d.render(self.sources) for d in self.diagnostics)


class Diagnostics:
    """A bag that collects diagnostics while a file is checked, so all are reported."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []
        self.sources: dict[str, Source] = {}

    def add(self, code: str, message: str, span: Span | None = None, hint: str | None = None):
        self.items.append(Diagnostic(code, message, span, hint))

    def extend(self, items: Iterable[Diagnostic]) -> None:
        self.items.extend(items)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise DiagnosticError(self.sorted(), self.sources)

    def sorted(self) -> list[Diagnostic]:
        def key(d: Diagnostic):
            s = d.span
            return (s.file, s.line, s.col) if s else ("", 0, 0)

        return sorted(self.items, key=key)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest choice, or listing the choices when few."""
    choices = sorted(set(choices))
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    if 0 < len(choices) <= 12:
        return "expected one of: " + ", ".join(f"`{c}`" for c in choices)
    return None
