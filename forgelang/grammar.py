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
GRAMMAR = Path(__file__).with_name("forge.lark")


class NestingTooDeep(Exception):
    """Raised while lexing when brackets nest more than ``MAX_DEPTH`` deep.

    Attributes:
        token: The opening bracket that went one level too deep.
    """

    def __init__(self, token: Token):
        super().__init__(f"brackets nested more than {MAX_DEPTH} deep")
        self.token = token


class _Postlexer:
    """Passes newline tokens only directly inside ``gate`` blocks; bounds nesting depth."""

    always_accept = ("_NL",)
    _OPEN = {"LBRACE": "}", "LSQB": "]", "LPAR": ")"}
    _CLOSE = {"RBRACE", "RSQB", "RPAR"}

    def process(self, stream):
        stack: list[str] = []
        gate_pending = False
        last_nl = True
        for tok in stream:
            kind = tok.type
            if kind == "_NL":
                if stack and stack[-1] == "gate" and not last_nl:
                    last_nl = True
                    yield tok
                continue
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
        syntax error and ``NestingTooDeep`` on brackets nested too deep.
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
