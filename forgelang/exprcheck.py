"""Compile-time checks of names: reserved words, functions and metric names in expressions."""

from __future__ import annotations

from forgelang import ast
from forgelang.diagnostics import Diagnostics, did_you_mean
from forgelang.expressions import FUNCTIONS, names_in
from forgelang.syntax_errors import RESERVED

_COMPOUND = (ast.Binary, ast.Unary, ast.Call, ast.Paren)


def check_reserved(unit, stmts, diags: Diagnostics) -> None:
    """Reserved words may not name variables, presets or phases."""
    named = [(n, let.name_span) for n, let in unit.lets.items()]
    named += [(n, p.name_span) for n, p in unit.presets.items()]
    named += [(s.alias, s.alias_span) for s in stmts if isinstance(s, ast.PhaseDecl) and s.alias]
    for name, span in named:
        if name.rsplit(".", 1)[-1] in RESERVED:
            diags.add("E001", f"`{name}` is a reserved word and cannot be used as a name", span,
                      "choose another name; reserved: " + ", ".join(RESERVED))


def check_expression(expr: ast.Expr, allowed, lets, diags: Diagnostics, kind_name: str,
                     code: str = "E091") -> bool:
    """Unknown functions (E090) and names that are neither variables nor metrics (E091)."""
    ok = True
    for call in _calls(expr):
        if call.func not in FUNCTIONS:
            diags.add("E090", f"unknown function `{call.func}`", call.span,
                      did_you_mean(call.func, FUNCTIONS) or None)
            ok = False
    for ref in names_in(expr):
        if ref.name not in lets and not allowed(ref.name):
            message = (f"phase {kind_name} does not produce metric `{ref.name}`" if code == "E061"
                       else f"`{ref.name}` is not a variable or a metric of `{kind_name}`")
            diags.add(code, message, ref.span,
                      "see docs/phases.md for the metrics each kind records")
            ok = False
    return ok


def check_phase_expressions(decl: ast.PhaseDecl, kind, res, diags: Diagnostics) -> None:
    """Expressions in a phase block (e.g. fitness) may only name variables and metrics."""
    for expr in _compound_values(decl.body):
        if any(r.name not in res.lets for r in names_in(expr)) or _calls(expr):
            check_expression(expr, kind.produces, res.lets, diags, kind.name)


def _compound_values(obj: ast.Object):
    for item in obj.items:
        value = item.value
        if isinstance(value, ast.Object):
            yield from _compound_values(value)
        elif isinstance(value, ast.ListExpr):
            yield from (v for v in value.items if isinstance(v, _COMPOUND))
        elif isinstance(value, _COMPOUND):
            yield value


def _calls(expr) -> list[ast.Call]:
    found = [expr] if isinstance(expr, ast.Call) else []
    for child in (getattr(expr, a, None) for a in ("left", "right", "operand", "inner")):
        if child is not None:
            found += _calls(child)
    for arg in getattr(expr, "args", ()) if isinstance(expr, ast.Call) else ():
        found += _calls(arg)
    return found
