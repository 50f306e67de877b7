"""Lay a parsed module out in the canonical ``forge fmt`` style (see docs/fmt.md).

Rendering works on lists of ``Line``. A rendered value's first line has no indent
(it continues the line its caller started); its other lines carry their own indent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from forgelang import ast
from forgelang.expressions import to_source
from forgelang.fmt_comments import CommentMap

WIDTH = 100  # a one-line block or list must end by this column
INDENT = "  "
# An item keyed `and`/`or` right after `key = value` would read as the value's operator,
# so the item before it keeps a comma.
_OPERATOR_KEYS = frozenset({"and", "or"})


@dataclass
class Line:
    """One output line: code, and the comment that ends it (if any)."""

    text: str
    comment: str | None = None

    def render(self) -> str:
        return f"{self.text}  {self.comment}" if self.comment else self.text


BlankRule = Callable[[object, object, bool], bool]


def _source_blank(prev, child, blank: bool) -> bool:
    return blank


def _never_blank(prev, child, blank: bool) -> bool:
    return False


def _statement_blank(prev, child, blank: bool) -> bool:
    """One blank line between statements; runs of `let` or of `import` keep the user's."""
    same_run = type(prev) is type(child) and isinstance(child, (ast.Let, ast.Import))
    return blank if same_run else True


def _quote(text: str) -> str:
    """A string literal for ``text`` (escaped to ASCII only when it holds lone surrogates)."""
    quoted = json.dumps(text, ensure_ascii=False)
    try:
        quoted.encode("utf-8")
    except UnicodeEncodeError:  # "\ud800" was written; raw it could not be saved as UTF-8
        return json.dumps(text)
    return quoted


def _has_block(expr: ast.Expr) -> bool:
    """Whether a block appears anywhere inside ``expr``."""
    if isinstance(expr, ast.Object):
        return True
    if isinstance(expr, ast.ListExpr):
        return any(_has_block(i) for i in expr.items)
    if isinstance(expr, ast.Call):
        return any(_has_block(a) for a in expr.args)
    if isinstance(expr, ast.Binary):
        return _has_block(expr.left) or _has_block(expr.right)
    if isinstance(expr, (ast.Unary, ast.Paren)):
        return _has_block(expr.operand if isinstance(expr, ast.Unary) else expr.inner)
    return False


def _needs_comma(items: tuple[ast.Item, ...], k: int) -> bool:
    return (k + 1 < len(items) and items[k].form == "assign"
            and items[k + 1].key in _OPERATOR_KEYS)


def _width(line: Line, col: int, single: bool) -> int:
    """The column where ``line`` ends; ``col`` is where a value's first line starts."""
    return col + len(line.text) if single else len(line.text)


class Printer:
    """Renders statements, blocks and values, placing the comments of a CommentMap."""

    def __init__(self, cmap: CommentMap):
        self.cmap = cmap

    # ------------------------------------------------------------- module
    def module(self, module: ast.Module) -> str:
        """The whole file: statements, comments, one final newline (empty when nothing)."""
        frags = [self.statement(s) for s in module.statements]
        lines = self._body(module, list(module.statements), frags, 0, _statement_blank)
        text = "\n".join(line.render() for line in lines)
        return text + "\n" if text else ""

    def statement(self, stmt: ast.Statement) -> list[Line]:
        if isinstance(stmt, ast.Version):
            return [Line(f"forge {stmt.number}")]
        if isinstance(stmt, ast.Import):
            alias = f" as {stmt.alias}" if stmt.alias else ""
            return [Line(f"import {_quote(stmt.path)}{alias}")]
        if isinstance(stmt, ast.Let):
            return self._prefixed(f"let {stmt.name} = ", stmt.value, 0)
        if isinstance(stmt, ast.RecipeDecl):
            return self._prefixed(f"recipe {_quote(stmt.name)} ", stmt.body, 0)
        if isinstance(stmt, ast.PresetDecl):
            extends = f" extends {stmt.extends}" if stmt.extends else ""
            return self._prefixed(f"preset {stmt.name}{extends} ", stmt.body, 0)
        if isinstance(stmt, ast.PhaseDecl):
            alias = f" as {stmt.alias}" if stmt.alias else ""
            extends = f" extends {stmt.extends}" if stmt.extends else ""
            return self._prefixed(f"phase {stmt.kind}{alias}{extends} ", stmt.body, 0)
        if isinstance(stmt, ast.GateDecl):
            return self._gate(stmt)
        raise TypeError(f"not a statement: {stmt!r}")

    def _gate(self, gate: ast.GateDecl) -> list[Line]:
        """Conditions first, one per line, then settings (the parser splits them anyway)."""
        kids = [*gate.conditions, *gate.settings]
        if not kids and not self.cmap.busy(gate):
            return [Line(f"gate {gate.phase} {{}}")]
        frags = [self._prefixed("", c, 1) for c in gate.conditions]
        frags += [self._item(s, 1) for s in gate.settings]
        body = self._body(gate, kids, frags, 1, _source_blank)
        return [Line(f"gate {gate.phase} {{", self.cmap.of(gate).header), *body, Line("}")]

    # ---------------------------------------------------- lines of a body
    def _body(self, container, kids: list, frags: list[list[Line]], indent: int,
              rule: BlankRule, blanks: bool = True) -> list[Line]:
        """Children one after another with their comments, then the container's footer."""
        pad = INDENT * indent
        out: list[Line] = []
        prev = None
        for kid, lines in zip(kids, frags, strict=True):
            notes = self.cmap.of(kid)
            own = [n for n in notes.leading if not n.hoisted]
            if prev is not None and rule(prev, kid, own[0].blank if own else notes.blank):
                out.append(Line(""))
            for k, note in enumerate(own):
                if k and blanks and note.blank:
                    out.append(Line(""))
                out.append(Line(pad + note.text))
            if own and blanks and notes.blank:
                out.append(Line(""))
            out += [Line(pad + n.text) for n in notes.leading if n.hoisted]
            if notes.trailing:
                lines[-1].comment = notes.trailing
            out += lines
            prev = kid
        for note in self.cmap.of(container).footer:
            if out and blanks and note.blank:
                out.append(Line(""))
            out.append(Line(pad + note.text))
        return out

    def _prefixed(self, head: str, expr: ast.Expr, indent: int) -> list[Line]:
        """``head`` then ``expr``, as lines starting at ``indent``."""
        pad = INDENT * indent
        lines = self.value(expr, indent, len(pad) + len(head))
        lines[0].text = pad + head + lines[0].text
        return lines

    def _item(self, item: ast.Item, indent: int) -> list[Line]:
        head = f"{item.key} = " if item.form == "assign" else f"{item.key} "
        return self._prefixed(head, item.value, indent)

    # ------------------------------------------------------------- values
    def value(self, expr: ast.Expr, indent: int, col: int) -> list[Line]:
        """``expr`` starting at column ``col`` of a line indented ``indent`` levels."""
        flat = self.flat(expr)
        empty = isinstance(expr, (ast.Object, ast.ListExpr)) and not expr.items
        if flat is not None and (col + len(flat) <= WIDTH or empty):
            return [Line(flat)]
        if isinstance(expr, ast.Object):
            return self._block(expr, indent)
        if isinstance(expr, ast.ListExpr):
            return self._list(expr, indent)
        return self._sequence(self._pieces(expr), indent, col)

    def _pieces(self, expr: ast.Expr) -> list:
        """An expression as text and sub-expressions (each laid out on its own)."""
        if isinstance(expr, ast.Call):
            pieces: list = [f"{expr.func}("]
            for k, arg in enumerate(expr.args):
                pieces += [", ", arg] if k else [arg]
            return [*pieces, ")"]
        if isinstance(expr, ast.Binary):
            return [expr.left, f" {expr.op} ", expr.right]
        if isinstance(expr, ast.Unary):
            return ["not " if expr.op == "not" else "-", expr.operand]
        if isinstance(expr, ast.Paren):
            return ["(", expr.inner, ")"]
        return [to_source(expr)]

    def _sequence(self, pieces: list, indent: int, col: int) -> list[Line]:
        out = [Line("")]
        for piece in pieces:
            at = _width(out[-1], col, len(out) == 1)
            frag = [Line(piece)] if isinstance(piece, str) else self.value(piece, indent, at)
            out[-1].text += frag[0].text
            out += frag[1:]
        return out

    def flat(self, expr: ast.Expr) -> str | None:
        """``expr`` on one line, or None when it must span lines."""
        if isinstance(expr, ast.Object):
            return self._flat_block(expr)
        if isinstance(expr, ast.ListExpr):
            items = self._flat_all(expr.items)
            busy = self.cmap.busy(expr)
            return None if items is None or busy else "[" + ", ".join(items) + "]"
        if isinstance(expr, (ast.Literal, ast.Ref)):
            return to_source(expr)
        parts = self._flat_all([p for p in self._pieces(expr) if not isinstance(p, str)])
        if parts is None:
            return None
        flats = iter(parts)
        return "".join(p if isinstance(p, str) else next(flats) for p in self._pieces(expr))

    def _flat_all(self, exprs) -> list[str] | None:
        out = []
        for e in exprs:
            text = self.flat(e)
            if text is None:
                return None
            out.append(text)
        return out

    def _flat_block(self, obj: ast.Object) -> str | None:
        """A block on one line: no comments, no block inside, and one line in the source."""
        head = f"{obj.type} " if obj.type else ""
        if self.cmap.busy(obj):
            return None
        if not obj.items:
            return head + "{}"
        if obj.span.line != obj.span.end_line or any(_has_block(i.value) for i in obj.items):
            return None
        values = self._flat_all([i.value for i in obj.items])
        if values is None:
            return None
        parts = [f"{i.key} = {v}" + ("," if _needs_comma(obj.items, k) else "")
                 for k, (i, v) in enumerate(zip(obj.items, values, strict=True))]
        return head + "{ " + "  ".join(parts) + " }"

    def _block(self, obj: ast.Object, indent: int) -> list[Line]:
        """A block with one item per line."""
        head = (f"{obj.type} " if obj.type else "") + "{"
        frags = [self._item(item, indent + 1) for item in obj.items]
        for k, lines in enumerate(frags):
            if _needs_comma(obj.items, k):
                lines[-1].text += ","
        body = self._body(obj, list(obj.items), frags, indent + 1, _source_blank)
        return [Line(head, self.cmap.of(obj).header), *body, Line(INDENT * indent + "}")]

    def _list(self, lst: ast.ListExpr, indent: int) -> list[Line]:
        """A list with one element per line, each followed by a comma."""
        frags = [self._prefixed("", item, indent + 1) for item in lst.items]
        for lines in frags:
            lines[-1].text += ","
        body = self._body(lst, list(lst.items), frags, indent + 1, _never_blank, blanks=False)
        return [Line("[", self.cmap.of(lst).header), *body, Line(INDENT * indent + "]")]
