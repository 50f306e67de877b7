"""A safe calculator for tool-use episodes, and the tool-call markup around it.

The calculator parses arithmetic with a small recursive-descent parser over exact
fractions; it never calls ``eval``. Grammar::

    expr   := term (("+" | "-") term)*
    term   := factor (("*" | "/") factor)*
    factor := ("+" | "-") factor | NUMBER | "(" expr ")"
"""

from __future__ import annotations

import re
from fractions import Fraction

from runtime.data.tokens import RESULT_CLOSE, RESULT_OPEN, TOOL_CLOSE, TOOL_OPEN

# Limits keep a model's tool call from costing unbounded time or memory.
MAX_EXPRESSION_CHARS = 256
MAX_DEPTH = 32
MAX_MAGNITUDE = 10**40

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|(.))")
_CALL = re.compile(r"^\s*([a-z_]+)\((.*)\)\s*$", re.DOTALL)


class CalculatorError(ValueError):
    """The expression is not valid arithmetic or exceeds the calculator's limits."""


def _tokens(text: str) -> list[str]:
    if len(text) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    out = []
    for number, symbol in _TOKEN.findall(text.strip()):
        if symbol and symbol not in "+-*/()":
            raise CalculatorError(f"unexpected character {symbol!r}")
        out.append(number or symbol)
    return out


class _Parser:
    """Recursive-descent evaluator over a token list."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.pos, self.depth = tokens, 0, 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise CalculatorError("unexpected end of expression")
        self.pos += 1
        return token

    def expr(self) -> Fraction:
        value = self.term()
        while self.peek() in ("+", "-"):
            op, rhs = self.take(), self.term()
            value = _checked(value + rhs if op == "+" else value - rhs)
        return value

    def term(self) -> Fraction:
        value = self.factor()
        while self.peek() in ("*", "/"):
            op, rhs = self.take(), self.factor()
            if op == "/" and rhs == 0:
                raise CalculatorError("division by zero")
            value = _checked(value * rhs if op == "*" else value / rhs)
        return value

    def factor(self) -> Fraction:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CalculatorError("expression nested too deeply")
        token = self.take()
        if token in ("+", "-"):
            value = self.factor()
            value = -value if token == "-" else value
        elif token == "(":
            value = self.expr()
            if self.take() != ")":
                raise CalculatorError("missing ')'")
        elif token[0].isdigit():
            value = Fraction(token)
        else:
            raise CalculatorError(f"unexpected {token!r}")
        self.depth -= 1
        return value


def _checked(value: Fraction) -> Fraction:
    if abs(value) > MAX_MAGNITUDE:
        raise CalculatorError("result too large")
    return value


def evaluate(expression: str) -> Fraction:
    """Evaluate an arithmetic expression exactly.

    Args:
        expression: Integers/decimals with ``+ - * /``, unary signs and parentheses.

    Returns:
        The exact value as a Fraction.

    Raises:
        CalculatorError: On a syntax error, division by zero or a limit exceeded.
    """
    parser = _Parser(_tokens(expression))
    if parser.peek() is None:
        raise CalculatorError("empty expression")
    value = parser.expr()
    if parser.peek() is not None:
        raise CalculatorError(f"unexpected {parser.peek()!r} after the expression")
    return value


def format_number(value: Fraction) -> str:
    """Integers print exactly; other values with up to 6 decimals, trailing zeros cut."""
    if value.denominator == 1:
        return str(value.numerator)
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def calculate(expression: str) -> str:
    """Evaluate and format: ``calculate("37*91") == "3367"``."""
    return format_number(evaluate(expression))


def tool_call_text(expression: str) -> str:
    """Markup the model writes to call the calculator."""
    return f"{TOOL_OPEN}calc({expression}){TOOL_CLOSE}"


def tool_result_text(result: str) -> str:
    """Markup the runtime inserts after executing a tool call."""
    return f"{RESULT_OPEN}{result}{RESULT_CLOSE}"


def run_tool_call(call: str) -> str:
    """Execute the text between ``<|tool|>`` and ``<|/tool|>``, e.g. ``calc(37*91)``.

    Errors are returned as ``"error: ..."`` text rather than raised: the model wrote
    the call, so a bad call is an outcome to show it, not a bug.
    """
    match = _CALL.match(call)
    if match is None:
        return "error: expected calc(<expression>)"
    if match.group(1) != "calc":
        return f"error: unknown tool {match.group(1)!r}"
    try:
        return calculate(match.group(2))
    except CalculatorError as exc:
        return f"error: {exc}"
