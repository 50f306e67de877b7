"""Lark parse tree -> forgelang.ast, one small method per grammar rule."""

from __future__ import annotations

import json
import re

from lark import Token, Transformer, v_args

from forgelang import ast
from forgelang.source import Span

DURATION_UNITS = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
SIZE_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
              "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
_UNIT_RE = re.compile(r"^(\d+(?:\.\d+)?)([A-Za-z%]+)$")


def parse_duration(text: str) -> float:
    number, unit = _UNIT_RE.match(text).groups()
    return float(number) * DURATION_UNITS[unit]


def parse_size(text: str) -> int:
    number, unit = _UNIT_RE.match(text).groups()
    return int(round(float(number) * SIZE_UNITS[unit]))


def unquote(text: str) -> str:
    """A .forge string literal's value (JSON escapes)."""
    try:
        return json.loads(text)
    except ValueError:
        return text[1:-1]


class _Name(str):
    """A name as written, with its span (used for `extends` and `as` clauses)."""

    def __new__(cls, text: str, span: Span):
        obj = super().__new__(cls, text)
        obj.span = span
        return obj


def _clean(children) -> list:
    return [c for c in children if c is not None]


@v_args(meta=True)
class ToAst(Transformer):
    """Builds AST nodes; every node gets the span of the text it came from."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.path, 1, 1, 1, 2)
        return Span(self.path, meta.line, meta.column, meta.end_line, meta.end_column,
                    meta.start_pos, meta.end_pos)

    def _tok_span(self, tok: Token) -> Span:
        return Span(self.path, tok.line, tok.column, tok.end_line, tok.end_column,
                    tok.start_pos, tok.end_pos)

    # ---------------------------------------------------------- statements
    def start(self, meta, children):
        return ast.Module(tuple(children), self.path)

    def version(self, meta, c):
        return ast.Version(int(str(c[0]).replace("_", "")), self._span(meta))

    def import_stmt(self, meta, c):
        alias = str(c[1]) if c[1] is not None else None
        return ast.Import(unquote(str(c[0])), alias, self._span(meta))

    def let_stmt(self, meta, c):
        return ast.Let(str(c[0]), c[1], self._span(meta), self._tok_span(c[0]))

    def recipe_stmt(self, meta, c):
        return ast.RecipeDecl(unquote(str(c[0])), c[1], self._span(meta))

    def preset_stmt(self, meta, c):
        extends = str(c[1]) if c[1] is not None else None
        return ast.PresetDecl(str(c[0]), c[2], extends, self._span(meta), self._tok_span(c[0]),
                              self._name_span(c[1], meta))

    def phase_stmt(self, meta, c):
        if c[1] is not None:
            c[1] = _Name(str(c[1]), self._tok_span(c[1]))
        alias = str(c[1]) if c[1] is not None else None
        extends = str(c[2]) if c[2] is not None else None
        return ast.PhaseDecl(str(c[0]), c[3], alias, extends, self._span(meta),
                             self._tok_span(c[0]), self._name_span(c[1], meta),
                             self._name_span(c[2], meta))

    def _name_span(self, name, meta) -> Span:
        return name.span if isinstance(name, _Name) else self._span(meta)

    def gate_stmt(self, meta, c):
        conditions, settings = c[1]
        return ast.GateDecl(str(c[0]), conditions, settings, self._span(meta),
                            self._tok_span(c[0]))

    # -------------------------------------------------------------- blocks
    def block(self, meta, c):
        return ast.Object(tuple(_clean(c)), None, self._span(meta))

    def key(self, meta, c):
        return c[0]

    def assign(self, meta, c):
        return ast.Item(str(c[0]), c[1], "assign", self._span(meta), self._tok_span(c[0]))

    def nested(self, meta, c):
        return ast.Item(str(c[0]), c[1], "nested", self._span(meta), self._tok_span(c[0]))

    def typed_nested(self, meta, c):
        obj = ast.Object(c[2].items, str(c[1]), c[2].span, self._tok_span(c[1]))
        return ast.Item(str(c[0]), obj, "typed", self._span(meta), self._tok_span(c[0]))

    def gate_block(self, meta, c):
        items = _clean(c)
        settings = tuple(i for i in items if isinstance(i, ast.Item))
        conditions = tuple(i for i in items if not isinstance(i, ast.Item))
        return conditions, settings

    def condition(self, meta, c):
        return c[0]

    # --------------------------------------------------------- expressions
    def or_(self, meta, c):
        return ast.Binary("or", c[0], c[1], self._span(meta))

    def and_(self, meta, c):
        return ast.Binary("and", c[0], c[1], self._span(meta))

    def not_(self, meta, c):
        return ast.Unary("not", c[0], self._span(meta))

    def compare(self, meta, c):
        return ast.Binary(str(c[1]), c[0], c[2], self._span(meta))

    def binop(self, meta, c):
        return ast.Binary(str(c[1]), c[0], c[2], self._span(meta))

    def neg(self, meta, c):
        return ast.Unary("-", c[1], self._span(meta))

    def int(self, meta, c):
        return ast.Literal(int(str(c[0]).replace("_", "")), "", str(c[0]), self._span(meta))

    def float(self, meta, c):
        return ast.Literal(float(str(c[0]).replace("_", "")), "", str(c[0]), self._span(meta))

    def string(self, meta, c):
        return ast.Literal(unquote(str(c[0])), "", str(c[0]), self._span(meta))

    def duration(self, meta, c):
        return ast.Literal(parse_duration(str(c[0])), "duration", str(c[0]), self._span(meta))

    def size(self, meta, c):
        return ast.Literal(parse_size(str(c[0])), "size", str(c[0]), self._span(meta))

    def percent(self, meta, c):
        value = float(str(c[0])[:-1]) / 100.0
        return ast.Literal(value, "percent", str(c[0]), self._span(meta))

    def true(self, meta, c):
        return ast.Literal(True, "", "true", self._span(meta))

    def false(self, meta, c):
        return ast.Literal(False, "", "false", self._span(meta))

    def dotted(self, meta, c):
        return _Name(".".join(str(t) for t in c), self._span(meta))

    def ref(self, meta, c):
        return ast.Ref(str(c[0]), self._span(meta))

    def call(self, meta, c):
        return ast.Call(str(c[0]), tuple(_clean(c[1:])), self._span(meta))

    def list(self, meta, c):
        return ast.ListExpr(tuple(_clean(c)), self._span(meta))

    def object(self, meta, c):
        return c[0]

    def typed_object(self, meta, c):
        return ast.Object(c[1].items, str(c[0]), self._span(meta), self._tok_span(c[0]))

    def paren(self, meta, c):
        return ast.Paren(c[0], self._span(meta))
