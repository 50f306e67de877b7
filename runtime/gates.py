"""Quality gates: a plan's gate conditions evaluated on a phase's measured metrics."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from forgelang import ast
from forgelang.expressions import ExpressionError, evaluate
from forgelang.plan import GateSpec
from runtime.retention import INPUT_DATA_DIFFERS

_COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")


@lru_cache(maxsize=256)
def parse_condition(src: str) -> ast.Expr:
    """Parse one gate condition (source text as kept in the plan) to an expression AST."""
    from forgelang.parser import parse_text

    return parse_text(f"gate x {{ {src} }}").statements[0].conditions[0]


@dataclass(frozen=True)
class GateVerdict:
    """The outcome of one gate condition."""

    phase: str
    expression: str
    value: float | None  # the measured side of a `metric OP constant` comparison
    threshold: float | None  # the constant side
    passed: bool
    action: str  # "stop" | "warn"
    message: str

    def to_json(self) -> dict:
        return {"phase": self.phase, "expression": self.expression, "value": self.value,
                "threshold": self.threshold, "passed": self.passed, "action": self.action,
                "message": self.message}


def _number(expr: ast.Expr) -> float | None:
    if isinstance(expr, ast.Literal) and isinstance(expr.value, (int, float)) \
            and not isinstance(expr.value, bool):
        return float(expr.value)
    return None


def _split(expr: ast.Expr) -> tuple[ast.Expr | None, float | None]:
    """(measured side, threshold) of ``metric OP constant`` or ``constant OP metric``."""
    if isinstance(expr, ast.Binary) and expr.op in _COMPARISONS:
        right, left = _number(expr.right), _number(expr.left)
        if right is not None:
            return expr.left, right
        if left is not None:
            return expr.right, left
    return None, None


SHOWN_METRICS = 12  # a message lists at most this many measured names
RETENTIONS = ("retention", "cumulative_retention")


def why_unknown(error: ExpressionError, metrics: dict) -> str:
    """Why a gate's name has no value: retention undefined because the input scored 0 or
    was measured on other data, a near miss (did-you-mean), or which metrics were measured
    (the first few)."""
    from forgelang.diagnostics import did_you_mean

    name = getattr(error.node, "name", None)
    if name in RETENTIONS and metrics.get("input_accuracy", None) == 0:
        return (f"`{name}` is undefined: the phase's input scored 0 on the held-out set "
                "(input_accuracy = 0), so after ÷ before has no value")
    if name == "cumulative_retention" and "retention" in metrics:
        return ("`cumulative_retention` is undefined: the data changed along this model's "
                "lineage (a JSONL file against the suite, or two files), so the product of "
                "retentions would compare two data sets; `retention` (this phase's after ÷ "
                "before, on one data set) is defined, and `forge lineage MODEL` shows the data")
    if name in RETENTIONS and metrics.get(INPUT_DATA_DIFFERS) == 1:
        return (f"`{name}` is undefined: an input model's accuracy was measured on other data "
                "than this phase's (the suite against a JSONL file, or two files), and numbers "
                "from two data sets are not compared; `forge lineage MODEL` shows which data "
                "each model was measured on")
    known = sorted(metrics)
    more = f" and {len(known) - SHOWN_METRICS} more" if len(known) > SHOWN_METRICS else ""
    listed = f"(measured metrics: {', '.join(known[:SHOWN_METRICS]) or 'none'}{more})"
    if name in RETENTIONS:
        return (f"`{name}` is undefined: it needs the input's score on the held-out set, "
                f"which is 0 or was not measured {listed}")
    hint = did_you_mean(str(name), metrics) if name else None
    return f"{error}; {hint}" if hint else f"{error} {listed}"


def evaluate_gate(gate: GateSpec, metrics: dict) -> GateVerdict:
    """Evaluate ``gate`` against the metrics measured after its phase.

    A condition naming a metric that was not measured fails, saying which metrics exist:
    a gate must never pass on a value nobody measured.
    """
    expr = parse_condition(gate.expression)
    side, threshold = _split(expr)
    try:
        value = float(evaluate(side, metrics)) if side is not None else None
        passed = evaluate(expr, metrics)
    except ExpressionError as e:
        return GateVerdict(gate.phase, gate.expression, None, threshold, False, gate.on_fail,
                           f"cannot be evaluated after phase `{gate.phase}`: "
                           f"{why_unknown(e, metrics)}")
    if not isinstance(passed, bool):
        return GateVerdict(gate.phase, gate.expression, value, threshold, False, gate.on_fail,
                           "the condition does not give true or false")
    shown = f"value {value:.6g} vs threshold {threshold:g}" if value is not None else (
        "condition " + ("holds" if passed else "does not hold"))
    return GateVerdict(gate.phase, gate.expression, value, threshold, passed, gate.on_fail,
                       shown)
