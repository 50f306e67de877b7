"""Safe expressions: printing and evaluating the AST without ``eval()``.

Fitness expressions and gate conditions are kept as AST and evaluated at run time
against measured metrics; constant sub-expressions are folded at compile time.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping

from forgelang import ast
from forgelang.value_size import MAX_INT, MAX_TEXT

FUNCTIONS = {
    "min": (min, 1, None),
    "max": (max, 1, None),
    "abs": (abs, 1, 1),
    "sqrt": (math.sqrt, 1, 1),
    "log": (math.log, 1, 1),
    "exp": (math.exp, 1, 1),
    "clamp": (lambda x, lo, hi: max(lo, min(hi, x)), 3, 3),
    "mean": (lambda *xs: sum(xs) / len(xs), 1, None),
}
_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
            "==": operator.eq, "!=": operator.ne}
PRECEDENCE = {"or": 1, "and": 2, "not": 3, "<": 4, "<=": 4, ">": 4, ">=": 4, "==": 4,
              "!=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "neg": 7}


class ExpressionError(ValueError):
    """An expression that cannot be evaluated; carries the offending node."""

    def __init__(self, message: str, node: ast.Expr, code: str = "E090"):
        super().__init__(message)
        self.node = node
        self.code = code


def names_in(expr: ast.Expr) -> list[ast.Ref]:
    """Every name referenced by an expression, in order."""
    if isinstance(expr, ast.Ref):
        return [expr]
    out: list[ast.Ref] = []
    for child in children(expr):
        out.extend(names_in(child))
    return out


def children(expr: ast.Expr) -> list[ast.Expr]:
    """The sub-expressions of an expression (a block's item values), in order."""
    if isinstance(expr, ast.Binary):
        return [expr.left, expr.right]
    if isinstance(expr, (ast.Unary,)):
        return [expr.operand]
    if isinstance(expr, ast.Paren):
        return [expr.inner]
    if isinstance(expr, (ast.Call, )):
        return list(expr.args)
    if isinstance(expr, ast.ListExpr):
        return list(expr.items)
    if isinstance(expr, ast.Object):
        return [i.value for i in expr.items]
    return []


def evaluate(expr: ast.Expr, env: Mapping[str, object]):
    """Evaluate an arithmetic/boolean expression; names are looked up in ``env``."""
    if isinstance(expr, ast.Literal):
        return expr.value
    if isinstance(expr, ast.Ref):
        if expr.name not in env:
            raise ExpressionError(f"unknown name `{expr.name}`", expr, "E091")
        return env[expr.name]
    if isinstance(expr, ast.Paren):
        return evaluate(expr.inner, env)
    if isinstance(expr, ast.Unary):
        value = evaluate(expr.operand, env)
        return (not _truth(value, expr)) if expr.op == "not" else -_number(value, expr)
    if isinstance(expr, ast.Binary):
        return _binary(expr, env)
    if isinstance(expr, ast.Call):
        return _call(expr, env)
    if isinstance(expr, ast.ListExpr):
        return [evaluate(i, env) for i in expr.items]
    raise ExpressionError("a block is not allowed in an expression", expr)


def _binary(expr: ast.Binary, env):
    if expr.op == "and":
        return _truth(evaluate(expr.left, env), expr) and _truth(evaluate(expr.right, env), expr)
    if expr.op == "or":
        return _truth(evaluate(expr.left, env), expr) or _truth(evaluate(expr.right, env), expr)
    left, right = evaluate(expr.left, env), evaluate(expr.right, env)
    if expr.op in _COMPARE:
        if isinstance(left, str) != isinstance(right, str):
            raise ExpressionError("cannot compare text with a number", expr)
        return _COMPARE[expr.op](left, right)
    if expr.op == "+" and isinstance(left, str) and isinstance(right, str):
        if len(left) + len(right) > MAX_TEXT:
            raise ExpressionError(f"text longer than {MAX_TEXT:,} characters", expr, "E092")
        return left + right
    a, b = _number(left, expr.left), _number(right, expr.right)
    if expr.op == "/" and b == 0:
        raise ExpressionError("division by zero", expr)
    result = _ARITH[expr.op](a, b)
    if isinstance(result, int) and abs(result) > MAX_INT:
        digits = int(abs(result).bit_length() * 0.30103) + 1  # printing it could be slow
        raise ExpressionError(f"integer result out of range (about {digits:,} digits); "
                              "integers are limited to ±(2**63 - 1)", expr, "E092")
    return result


def _call(expr: ast.Call, env):
    if expr.func not in FUNCTIONS:
        raise ExpressionError(f"unknown function `{expr.func}`", expr)
    func, lo, hi = FUNCTIONS[expr.func]
    if len(expr.args) < lo or (hi is not None and len(expr.args) > hi):
        want = str(lo) if lo == hi else f"{lo}+" if hi is None else f"{lo}-{hi}"
        raise ExpressionError(f"`{expr.func}` takes {want} arguments", expr)
    args = [_number(evaluate(a, env), a) for a in expr.args]
    try:
        return func(*args)
    except (ValueError, OverflowError) as e:
        raise ExpressionError(f"`{expr.func}`: {e}", expr) from None


def _number(value, node: ast.Expr) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExpressionError(f"expected a number, got {type_name(value)}", node)
    return value


def _truth(value, node: ast.Expr) -> bool:
    if not isinstance(value, bool):
        raise ExpressionError(f"expected true or false, got {type_name(value)}", node)
    return value


def type_name(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "a block"


def to_source(expr: ast.Expr) -> str:
    """Canonical one-line source of an expression (used by fmt, plans and gates)."""
    if isinstance(expr, ast.Literal):
        return expr.text or _literal_text(expr.value)
    if isinstance(expr, ast.Ref):
        return expr.name
    if isinstance(expr, ast.Paren):
        return f"({to_source(expr.inner)})"
    if isinstance(expr, ast.Unary):
        inner = to_source(expr.operand)
        return f"not {inner}" if expr.op == "not" else f"-{inner}"
    if isinstance(expr, ast.Binary):
        return f"{to_source(expr.left)} {expr.op} {to_source(expr.right)}"
    if isinstance(expr, ast.Call):
        return f"{expr.func}({', '.join(to_source(a) for a in expr.args)})"
    if isinstance(expr, ast.ListExpr):
        return "[" + ", ".join(to_source(i) for i in expr.items) + "]"
    if isinstance(expr, ast.Object):
        body = "  ".join(f"{i.key}{' = ' if i.form == 'assign' else ' '}{to_source(i.value)}"
                         for i in expr.items)
        head = f"{expr.type} " if expr.type else ""
        return head + ("{ " + body + " }" if body else "{}")
    raise TypeError(f"not an expression: {expr!r}")


def _literal_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        import json

        return json.dumps(value)
    return repr(value)
