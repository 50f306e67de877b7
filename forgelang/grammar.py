"""The .forge grammar (``forge.lark``), built once into an LALR parser.

The parser (``forgelang.parser``) and the syntax-error classifier
(``forgelang.syntax_errors``) both use the parser built here, so neither imports
the other.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lark import Lark, Token

MAX_DEPTH = 64  # brackets nested deeper than this are refused (and keep recursion bounded)
# Operators chained along one path through an expression (`1 + 1 + ...`, `- - 1`,
# counted through brackets). Each is a level of the parse tree that the transformer and
# the evaluator recurse through (two Python frames each), so with MAX_DEPTH brackets this
# stays far below Python's recursion limit of 1000; a fitness formula of 64 weighted
# terms fits.
MAX_OPERATORS = 128
# A number literal's characters: a 64-bit integer has 19 digits, so this leaves room for
# `_` separators, decimals and exponents, and keeps `int()` far from Python's 4300-digit
# limit on converting text.
MAX_NUMBER_CHARS = 64
GRAMMAR = Path(__file__).with_name("forge.lark")
_OPERATORS = {"PLUS", "MINUS", "STAR", "SLASH", "COMP_OP", "AND", "OR", "NOT"}
_NUMBERS = {"INT", "FLOAT", "DURATION", "SIZE", "PERCENT"}


class NestingTooDeep(Exception):
    """Raised while lexing when brackets nest more than ``MAX_DEPTH`` deep.

    Attributes:
        token: The opening bracket that went one level too deep.
    """

    def __init__(self, token: Token):
        super().__init__(f"brackets nested more than {MAX_DEPTH} deep")
        self.token = token


class SourceTooComplex(ValueError):
    """Raised while lexing when an expression chains more than ``MAX_OPERATORS``
    operators, or a number literal is longer than ``MAX_NUMBER_CHARS``.

    Attributes:
        token: The token that went over the bound.
        code: The diagnostic code (E004 nesting too deep, E092 value too large).
        hint: What to do about it.
    """

    def __init__(self, token: Token, code: str, message: str, hint: str):
        super().__init__(message)
        self.token, self.code, self.hint = token, code, hint


class _OperatorChain:
    """Counts the operators along the current path through an expression.

    An opening bracket remembers the count so far and its closing bracket restores it; an
    operand that does not follow an operator, an opening bracket or a `.` starts a new
    expression (the next item of a block or list) at the count of its bracket.
    """

    def __init__(self) -> None:
        self.count, self.joined = 0, True
        self.bases: list[int] = []

    def feed(self, tok: Token, kind: str) -> None:
        if kind in _NUMBERS and len(tok) > MAX_NUMBER_CHARS:
            raise SourceTooComplex(tok, "E092", f"number literal longer than {MAX_NUMBER_CHARS} "
                                   "characters", "integers are limited to 2**63 - 1")
        if kind in _Postlexer._OPEN:
            self.bases.append(self.count)
        elif kind in _Postlexer._CLOSE:
            self.count = self.bases.pop() if self.bases else 0
        elif kind in _OPERATORS:
            self.count += 1
            if self.count > MAX_OPERATORS:
                raise SourceTooComplex(tok, "E004", f"expression chains more than "
                                       f"{MAX_OPERATORS} operators", "split it into `let` "
                                       "variables, each a part of the expression")
        elif not self.joined and kind != "DOT":
            self.count = self.bases[-1] if self.bases else 0
        self.joined = kind in _OPERATORS or kind in _Postlexer._OPEN or kind == "DOT"


class _Postlexer:
    """Passes newline tokens only directly inside ``gate`` blocks; bounds nesting depth,
    operator chains and number literals."""

    always_accept = ("_NL",)
    _OPEN = {"LBRACE": "}", "LSQB": "]", "LPAR": ")"}
    _CLOSE = {"RBRACE", "RSQB", "RPAR"}

    def process(self, stream):
        stack: list[str] = []
        gate_pending = False
        last_nl = True
        chain = _OperatorChain()
        for tok in stream:
            kind = tok.type
            if kind == "_NL":
                if stack and stack[-1] == "gate" and not last_nl:
                    last_nl = True
                    chain.feed(tok, kind)  # a new condition
                    yield tok
                continue
            chain.feed(tok, kind)
            if kind in self._OPEN:
                stack.append("gate" if gate_pending and kind == "LBRACE" else kind)
                gate_pending = False
                if len(stack) > MAX_DEPTH:
                    raise NestingTooDeep(tok)
            elif kind in self._CLOSE and stack:
                stack.pop()
            elif kind == "GATE":
                gate_pending = True
            last_nl = kind == "LBRACE"
            yield tok


@lru_cache(maxsize=1)
def lark_parser() -> Lark:
    """The LALR parser of ``forge.lark``, built on first use and cached.

    Returns:
        A Lark parser whose ``parse`` yields a tree with positions (for spans) and
        ``None`` for absent optional parts; it raises ``lark.UnexpectedInput`` on a
        syntax error, ``NestingTooDeep`` on brackets nested too deep and
        ``SourceTooComplex`` on an operator chain or a number literal too long.
    """
    return Lark(
        GRAMMAR.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        postlex=_Postlexer(),
        propagate_positions=True,
        maybe_placeholders=True,
        strict=True,
        cache=True,
    )
