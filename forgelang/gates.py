"""Gate blocks: conditions on a phase's measured metrics, checked after it runs."""

from __future__ import annotations

from forgelang import ast
from forgelang.diagnostics import Diagnostics, did_you_mean
from forgelang.exprcheck import check_expression
from forgelang.expressions import to_source
from forgelang.kinds import KINDS
from forgelang.plan import GateSpec
from forgelang.resolve import Resolver
from forgelang.schema import GATE_ACTIONS

_COMPARE = {"<", "<=", ">", ">=", "==", "!="}


def compile_gates(stmts, kinds: dict[str, str], res: Resolver, diags: Diagnostics) -> list:
    """GateSpecs for every condition of every gate block, validated against the phases."""
    out: list[GateSpec] = []
    for gate in (s for s in stmts if isinstance(s, ast.GateDecl)):
        if gate.phase not in kinds:
            diags.add("E060", f"gate on unknown phase `{gate.phase}`", gate.phase_span,
                      did_you_mean(gate.phase, kinds) or "declare the phase first")
            continue
        on_fail = _on_fail(gate, res, diags)
        kind = KINDS.get(kinds[gate.phase])
        for cond in gate.conditions:
            if _check_condition(cond, kind, gate.phase, res, diags):
                out.append(GateSpec(gate.phase, to_source(res.substitute(cond)), on_fail))
        if not gate.conditions:
            diags.add("E062", f"gate on `{gate.phase}` has no condition", gate.span,
                      "e.g. `retention >= 0.95`")
    return out


def _on_fail(gate: ast.GateDecl, res: Resolver, diags: Diagnostics) -> str:
    action, seen = "stop", False
    for item in gate.settings:
        if item.key == "on_fail" and seen:
            diags.add("E030", "`on_fail` is set twice in this gate", item.key_span,
                      "keep one of them")
            continue
        seen = seen or item.key == "on_fail"
        if item.key != "on_fail":
            diags.add("E021", f"unknown gate setting `{item.key}`", item.key_span,
                      "conditions compare with `>=`, `<=`, `==`...; the only setting is "
                      "`on_fail = stop|warn`")
            continue
        value = res.value(item.value, ("gate", gate.phase, "on_fail"))
        if value not in GATE_ACTIONS:
            diags.add("E025", f"`on_fail` must be stop or warn, not `{value}`", item.value.span,
                      "stop ends the run; warn records the verdict and goes on")
        else:
            action = value
    return action


def _check_condition(cond: ast.Expr, kind, phase: str, res: Resolver, diags) -> bool:
    inner = cond.inner if isinstance(cond, ast.Paren) else cond
    boolean = (isinstance(inner, ast.Binary) and inner.op in _COMPARE | {"and", "or"}) or \
        (isinstance(inner, ast.Unary) and inner.op == "not")
    if not boolean:
        diags.add("E062", "a gate condition must compare a metric with a value",
                  getattr(cond, "span", None), "e.g. `retention >= 0.95`")
        return False
    return check_expression(cond, kind.produces, res.lets, diags, f"`{phase}` ({kind.name})",
                            "E061")
