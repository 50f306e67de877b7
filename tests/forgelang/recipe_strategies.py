"""Hypothesis strategies that write random, syntactically valid .forge recipes.

``recipes()`` draws whole files: random statements, nested and typed blocks, lists,
calls, arithmetic/boolean expressions with parentheses and unary operators, every
kind of literal, comments in random places, random whitespace (newlines, tabs, CRLF)
and optional commas/semicolons between block items. Nesting is bounded (depth <= 4).

The text follows the grammar's two subtle rules:
- inside a ``gate`` block a newline ends a condition, so there, outside brackets,
  tokens are separated by spaces only and comments sit only between conditions;
- names are never keywords (``or``, ``not``, ``true`` ...), so a reference never
  reads as an operator or a literal.

Used by the formatter's property tests and by the parser fuzzer.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

MAX_DEPTH = 4
NAMES = ("lr", "steps", "model", "ties", "dare", "x", "y_2", "_tmp", "score", "task", "d_model",
         "seedlm", "Alpha", "density", "base")
FUNCS = ("min", "max", "abs", "mean", "clamp", "sqrt")
COMPARE = ("<", "<=", ">", ">=", "==", "!=")
LITERALS = ("0", "1", "42", "007", "20_000", "1_000_000", "0.5", "1e-3", "3.14", "1_000.5",
            "2E+10", "1.5e-3", "15m", "1.5h", "30s", "100ms", "2d", "4GiB", "512MiB", "1.5GB",
            "10B", "2TiB", "95%", "0.5%", "true", "false", '"# not a comment"', '"a\\"b"',
            '"tab\\there"', '""')
_COMMENT_CHARS = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))

names = st.sampled_from(NAMES)
comment_texts = st.text(_COMMENT_CHARS, max_size=20).map(lambda s: "#" + s)


@st.composite
def strings(draw) -> str:
    """A string literal as written: JSON escapes, sometimes \\u escapes."""
    value = draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12))
    return json.dumps(value, ensure_ascii=draw(st.booleans()))


def _ws(draw, nl: bool, empty: bool = False) -> str:
    """Whitespace between two tokens; with ``nl``, newlines and comments too."""
    choices = ["", " "] if empty else [" "]
    choices += ["  ", "\t"]
    if nl:
        choices += ["\n", "\n\n    ", "\r\n  ", " \n \n", "comment"]
    pick = draw(st.sampled_from(choices))
    if pick == "comment":
        return " " + draw(comment_texts) + "\n" + draw(st.sampled_from(["", "  ", "\n  "]))
    return pick


def _dotted(draw) -> str:
    return ".".join(draw(st.lists(names, min_size=1, max_size=3)))


def _leaf(draw) -> str:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.sampled_from(LITERALS))
    if kind == 1:
        return draw(strings())
    return _dotted(draw)


# Levels of the expression grammar, loosest first: an operand of a level-L operator is
# drawn at level L (left, left-associative) or L+1 (right), so the text always parses.
OR, AND, NOT, COMPARISON, SUM, PRODUCT, NEG, ATOM = range(8)


def _expr(draw, level: int, depth: int, nl: bool) -> str:
    """An expression that binds at least as tightly as ``level``."""
    if depth <= 0:
        return _leaf(draw)
    top = draw(st.integers(level, ATOM))
    sub = depth - 1

    def ws() -> str:
        return _ws(draw, nl)

    if top == OR:
        return _expr(draw, OR, sub, nl) + ws() + "or" + ws() + _expr(draw, AND, sub, nl)
    if top == AND:
        return _expr(draw, AND, sub, nl) + ws() + "and" + ws() + _expr(draw, NOT, sub, nl)
    if top == NOT:
        return "not" + ws() + _expr(draw, NOT, sub, nl)
    if top == COMPARISON:
        op = draw(st.sampled_from(COMPARE))
        return _expr(draw, SUM, sub, nl) + ws() + op + ws() + _expr(draw, SUM, sub, nl)
    if top in (SUM, PRODUCT):
        op = draw(st.sampled_from("+-" if top == SUM else "*/"))
        return _expr(draw, top, sub, nl) + ws() + op + ws() + _expr(draw, top + 1, sub, nl)
    if top == NEG:
        return "-" + _ws(draw, nl, empty=True) + _expr(draw, NEG, sub, nl)
    return _atom(draw, sub, nl)


def _atom(draw, depth: int, nl: bool) -> str:
    """A leaf, call, list, block, typed block or parenthesised expression.

    Everything between brackets may span lines, even inside a gate block.
    """
    kind = draw(st.integers(0, 5))
    if kind == 0 or depth <= 0:
        return _leaf(draw)
    if kind == 1:
        head = draw(st.sampled_from(FUNCS)) + _ws(draw, nl, empty=True) + "("
        return head + _sequence(draw, depth, ")")
    if kind == 2:
        return "[" + _sequence(draw, depth, "]")
    if kind == 3:
        return block(draw, depth)
    if kind == 4:
        return draw(names) + _ws(draw, nl) + block(draw, depth)
    return "(" + _ws(draw, True, True) + _expr(draw, OR, depth, True) + _ws(draw, True, True) + ")"


def _sequence(draw, depth: int, close: str) -> str:
    """Comma-separated expressions, maybe a trailing comma, then ``close``."""
    count = draw(st.integers(0, 3))
    parts = [_ws(draw, True, True) + _expr(draw, OR, depth, True) + _ws(draw, True, True)
             for _ in range(count)]
    trailing = "," + _ws(draw, True, True) if count and draw(st.booleans()) else ""
    return ",".join(parts) + trailing + close


def block(draw, depth: int) -> str:
    """``{ items }`` with random separators (whitespace, ``,`` or ``;``) between items."""
    out = "{" + _ws(draw, True, empty=True)
    if draw(st.booleans()):
        out += draw(st.sampled_from([",", ";", ", ;"])) + _ws(draw, True, empty=True)
    for k in range(draw(st.integers(0, 3 if depth > 0 else 1))):
        if k:
            out += draw(st.sampled_from([_ws(draw, True), ",", " ; ", ",\n", ",, "]))
        out += item(draw, depth - 1)
    return out + _ws(draw, True) + "}"


def item(draw, depth: int, nl: bool = True) -> str:
    """``key = value``, ``key { ... }`` or ``key type { ... }``."""
    key = draw(names)
    form = draw(st.sampled_from(["assign", "assign", "nested", "typed"])) if nl else "assign"
    if form == "assign" or depth <= 0:
        return key + _ws(draw, nl, True) + "=" + _ws(draw, nl, True) + _expr(draw, OR, depth, nl)
    if form == "nested":
        return key + _ws(draw, True) + block(draw, depth)
    return key + _ws(draw, True) + draw(names) + _ws(draw, True) + block(draw, depth)


def gate_block(draw, depth: int) -> str:
    """A gate body: conditions and settings separated by newlines, ``,`` or ``;``."""
    seps = ["\n  ", ",", " ; ", ",\n", "\n\n  ", "comment"]

    def sep() -> str:
        pick = draw(st.sampled_from(seps))
        return ("  " + draw(comment_texts) + "\n  ") if pick == "comment" else pick

    out = "{" + _ws(draw, False) + (sep() if draw(st.booleans()) else "")
    for k in range(draw(st.integers(0, 4))):
        if k:
            out += sep()
        if draw(st.integers(0, 3)) == 0:
            out += item(draw, depth, nl=False)
        else:
            out += _expr(draw, OR, depth, False)
    return out + (sep() if draw(st.booleans()) else " ") + "}"


@st.composite
def statements(draw, depth: int = MAX_DEPTH - 1) -> str:
    """One top-level statement."""
    kind = draw(st.sampled_from(["forge", "import", "let", "recipe", "preset", "phase", "gate"]))

    def ws() -> str:
        return _ws(draw, True)

    if kind == "forge":
        return "forge" + ws() + draw(st.sampled_from(["1", "2", "01"]))
    if kind == "import":
        alias = (ws() + "as" + ws() + draw(names)) if draw(st.booleans()) else ""
        return "import" + ws() + draw(strings()) + alias
    if kind == "let":
        return "let" + ws() + draw(names) + ws() + "=" + ws() + _expr(draw, OR, depth, True)
    if kind == "recipe":
        return "recipe" + ws() + draw(strings()) + ws() + block(draw, depth)
    if kind == "gate":
        return "gate" + ws() + draw(names) + ws() + gate_block(draw, depth - 1)
    head = kind + ws() + draw(names)
    if kind == "phase" and draw(st.booleans()):
        head += ws() + "as" + ws() + draw(names)
    if draw(st.booleans()):
        head += ws() + "extends" + ws() + draw(names)
    return head + ws() + block(draw, depth)


@st.composite
def recipes(draw, max_statements: int = 6) -> str:
    """A whole .forge file's text (it always parses)."""
    out = _ws(draw, True, empty=True)
    for _ in range(draw(st.integers(0, max_statements))):
        out += draw(statements()) + _ws(draw, True)
    if draw(st.booleans()):
        out += draw(comment_texts)  # a comment on the last line, maybe with no newline
    return out
