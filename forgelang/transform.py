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


def _present(children) -> tuple:
    """The children an optional grammar part left as ``None`` removed."""
    return tuple(c for c in children if c is not None)


def _text_or_none(name) -> str | None:
    """An optional name's text, ``None`` when it was not written."""
    return str(name) if name is not None else None


@v_args(meta=True, inline=True)
class ToAst(Transformer):
    """Builds AST nodes; every node gets the span of the text it came from.

    Each method receives a rule's children as named parameters, in grammar order
    (``forge.lark``); an absent optional part (``[...]``) arrives as ``None``.
    """

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

    def _name_span(self, name, meta) -> Span:
        """A name's own span; the statement's when the name was not written."""
        return name.span if isinstance(name, _Name) else self._span(meta)

    # ---------------------------------------------------------- statements
    def start(self, meta, *statements):
        return ast.Module(statements, self.path)

    def version(self, meta, number):
        return ast.Version(int(str(number).replace("_", "")), self._span(meta))

    def import_stmt(self, meta, path, alias):
        return ast.Import(unquote(str(path)), _text_or_none(alias), self._span(meta))

    def let_stmt(self, meta, name, value):
        return ast.Let(str(name), value, self._span(meta), self._tok_span(name))

    def recipe_stmt(self, meta, name, body):
        return ast.RecipeDecl(unquote(str(name)), body, self._span(meta))

    def preset_stmt(self, meta, name, extends, body):
        return ast.PresetDecl(str(name), body, _text_or_none(extends), self._span(meta),
                              self._tok_span(name),
                              self._name_span(extends, meta))

    def phase_stmt(self, meta, kind, alias, extends, body):
        if alias is not None:
            alias = _Name(str(alias), self._tok_span(alias))
        return ast.PhaseDecl(str(kind), body, _text_or_none(alias), _text_or_none(extends),
                             self._span(meta), self._tok_span(kind),
                             self._name_span(alias, meta), self._name_span(extends, meta))

    def gate_stmt(self, meta, phase, checks):
        conditions, settings = checks
        return ast.GateDecl(str(phase), conditions, settings, self._span(meta),
                            self._tok_span(phase))

    # -------------------------------------------------------------- blocks
    def block(self, meta, *items):
        return ast.Object(_present(items), None, self._span(meta))

    def key(self, meta, name):
        return name

    def assign(self, meta, key, value):
        return ast.Item(str(key), value, "assign", self._span(meta), self._tok_span(key))

    def nested(self, meta, key, body):
        return ast.Item(str(key), body, "nested", self._span(meta), self._tok_span(key))

    def typed_nested(self, meta, key, type_name, body):
        obj = ast.Object(body.items, str(type_name), body.span, self._tok_span(type_name))
        return ast.Item(str(key), obj, "typed", self._span(meta), self._tok_span(key))

    def gate_block(self, meta, *entries):
        """(conditions, settings): settings are ``key = value`` items, the rest conditions."""
        present = _present(entries)
        settings = tuple(i for i in present if isinstance(i, ast.Item))
        conditions = tuple(i for i in present if not isinstance(i, ast.Item))
        return conditions, settings

    def condition(self, meta, expr):
        return expr

    # --------------------------------------------------------- expressions
    def or_(self, meta, left, right):
        return ast.Binary("or", left, right, self._span(meta))

    def and_(self, meta, left, right):
        return ast.Binary("and", left, right, self._span(meta))

    def not_(self, meta, operand):
        return ast.Unary("not", operand, self._span(meta))

    def compare(self, meta, left, op, right):
        return ast.Binary(str(op), left, right, self._span(meta))

    def binop(self, meta, left, op, right):
        return ast.Binary(str(op), left, right, self._span(meta))

    def neg(self, meta, minus, operand):
        return ast.Unary("-", operand, self._span(meta))

    def int(self, meta, number):
        text = str(number)
        return ast.Literal(int(text.replace("_", "")), "", text, self._span(meta))

    def float(self, meta, number):
        text = str(number)
        return ast.Literal(float(text.replace("_", "")), "", text, self._span(meta))

    def string(self, meta, literal):
        return ast.Literal(unquote(str(literal)), "", str(literal), self._span(meta))

    def duration(self, meta, literal):
        text = str(literal)
        return ast.Literal(parse_duration(text), "duration", text, self._span(meta))

    def size(self, meta, literal):
        return ast.Literal(parse_size(str(literal)), "size", str(literal), self._span(meta))

    def percent(self, meta, literal):
        text = str(literal)
        return ast.Literal(float(text[:-1]) / 100.0, "percent", text, self._span(meta))

    def true(self, meta):
        return ast.Literal(True, "", "true", self._span(meta))

    def false(self, meta):
        return ast.Literal(False, "", "false", self._span(meta))

    def dotted(self, meta, *names):
        return _Name(".".join(str(n) for n in names), self._span(meta))

    def ref(self, meta, name):
        return ast.Ref(str(name), self._span(meta))

    def call(self, meta, func, *args):
        return ast.Call(str(func), _present(args), self._span(meta))

    def list(self, meta, *items):
        return ast.ListExpr(_present(items), self._span(meta))

    def object(self, meta, body):
        return body

    def typed_object(self, meta, type_name, body):
        return ast.Object(body.items, str(type_name), self._span(meta), self._tok_span(type_name))

    def paren(self, meta, inner):
        return ast.Paren(inner, self._span(meta))

