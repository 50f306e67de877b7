"""Is a gate condition from a saved plan one the runtime can evaluate safely?

A compiled plan keeps each condition as canonical source (``retention >= 0.95``); the
runtime parses and evaluates it after its phase. A saved plan is untrusted, so its
conditions are checked before anything runs: one comparison (or ``and``/``or``/``not``
of them) over metric names, numbers and the expression functions, nothing else.
"""

from __future__ import annotations

from forgelang import ast
from forgelang.expressions import FUNCTIONS

_COMPARE = {"<", "<=", ">", ">=", "==", "!="}
_ARITH = {"+", "-", "*", "/"}
_PROBLEM = "must be one gate condition comparing metrics with numbers, e.g. `accuracy >= 0.5`"


def check_condition(src: str) -> str | None:
    """None when ``src`` is a safe gate condition, else what is wrong with it."""
    from forgelang.diagnostics import DiagnosticError
    from forgelang.parser import parse_text

    if "\n" in src or "\r" in src:
        return _PROBLEM
    try:
        statements = parse_text(f"gate x {{ {src} }}").statements
    except (DiagnosticError, RecursionError, ValueError):
        return _PROBLEM
    if len(statements) != 1 or not isinstance(statements[0], ast.GateDecl):
        return _PROBLEM
    gate = statements[0]
    if gate.settings or len(gate.conditions) != 1 or not _boolean(gate.conditions[0]):
        return _PROBLEM
    return None


def _boolean(expr: ast.Expr) -> bool:
    while isinstance(expr, ast.Paren):
        expr = expr.inner
    if isinstance(expr, ast.Unary) and expr.op == "not":
        return _boolean(expr.operand)
    if isinstance(expr, ast.Binary) and expr.op in ("and", "or"):
        return _boolean(expr.left) and _boolean(expr.right)
    return isinstance(expr, ast.Binary) and expr.op in _COMPARE and \
        _numeric(expr.left) and _numeric(expr.right)


def _numeric(expr: ast.Expr) -> bool:
    if isinstance(expr, ast.Paren):
        return _numeric(expr.inner)
    if isinstance(expr, ast.Literal):
        return isinstance(expr.value, (int, float)) and not isinstance(expr.value, bool)
    if isinstance(expr, ast.Ref):
        return True
    if isinstance(expr, ast.Unary):
        return expr.op == "-" and _numeric(expr.operand)
    if isinstance(expr, ast.Binary):
        return expr.op in _ARITH and _numeric(expr.left) and _numeric(expr.right)
    if isinstance(expr, ast.Call):
        return expr.func in FUNCTIONS and all(_numeric(a) for a in expr.args)
    return False
