"""The recipe AST. Every node carries the span it came from.

Spans are excluded from equality, so two parses of differently formatted but
equivalent text compare equal (the property ``forge fmt`` is tested against).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from forgelang.source import Span

_NO_SPAN = Span("<none>", 0, 0, 0, 0)


def _span() -> Span:
    return field(default=_NO_SPAN, compare=False, repr=False)


# ----------------------------------------------------------------- expressions
@dataclass(frozen=True)
class Expr:
    """Base class of every value node."""


@dataclass(frozen=True)
class Literal(Expr):
    """A number, string, boolean, duration (seconds), size (bytes) or percent (fraction)."""

    value: int | float | str | bool
    unit: str = ""  # "", "duration", "size", "percent"
    text: str = field(default="", compare=False)  # as written, for fmt
    span: Span = _span()


@dataclass(frozen=True)
class Ref(Expr):
    """A (possibly dotted) name: a variable, a preset, a symbol or a metric."""

    name: str
    span: Span = _span()


@dataclass(frozen=True)
class Call(Expr):
    func: str
    args: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class ListExpr(Expr):
    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Unary(Expr):
    op: str  # "-" or "not"
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Binary(Expr):
    op: str  # + - * / < <= > >= == != and or
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Paren(Expr):
    """Parentheses as written (kept so fmt reproduces them)."""

    inner: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Item:
    """``key = value``, ``key { ... }`` or ``key type { ... }`` inside a block."""

    key: str
    value: Expr
    form: str = "assign"  # "assign" | "nested" | "typed"
    span: Span = _span()
    key_span: Span = _span()


@dataclass(frozen=True)
class Object(Expr):
    """A block of items, optionally tagged with a type (``ties { density = 0.2 }``)."""

    items: tuple[Item, ...]
    type: str | None = None
    span: Span = _span()
    type_span: Span = _span()


# ------------------------------------------------------------------ statements
@dataclass(frozen=True)
class Statement:
    """Base class of top-level statements."""


@dataclass(frozen=True)
class Version(Statement):
    number: int
    span: Span = _span()


@dataclass(frozen=True)
class Import(Statement):
    path: str
    alias: str | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Let(Statement):
    name: str
    value: Expr
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class RecipeDecl(Statement):
    name: str
    body: Object
    span: Span = _span()


@dataclass(frozen=True)
class PresetDecl(Statement):
    name: str
    body: Object
    extends: str | None = None
    span: Span = _span()
    name_span: Span = _span()
    extends_span: Span = _span()


@dataclass(frozen=True)
class PhaseDecl(Statement):
    kind: str
    body: Object
    alias: str | None = None
    extends: str | None = None
    span: Span = _span()
    kind_span: Span = _span()
    alias_span: Span = _span()
    extends_span: Span = _span()

    @property
    def name(self) -> str:
        return self.alias or self.kind


@dataclass(frozen=True)
class GateDecl(Statement):
    phase: str
    conditions: tuple[Expr, ...]
    settings: tuple[Item, ...] = ()
    span: Span = _span()
    phase_span: Span = _span()


@dataclass(frozen=True)
class Comment:
    text: str
    line: int
    col: int
    own_line: bool  # True when nothing but whitespace precedes it on its line


@dataclass(frozen=True)
class Module:
    """One parsed .forge file."""

    statements: tuple[Statement, ...]
    path: str = field(default="<string>", compare=False)
    comments: tuple[Comment, ...] = field(default=(), compare=False)
