"""The recipe's ``fitness`` expression, evaluated on each candidate's measured metrics."""

from __future__ import annotations

from collections.abc import Callable

from forgelang.expressions import ExpressionError, evaluate


def fitness_function(source: str) -> Callable[[dict], float]:
    """The recipe's ``fitness`` expression as ``metrics -> float``.

    Parsed once with the gate-condition parser (the same expression language); each
    call evaluates it on measured metrics.

    Raises:
        ValueError: (when called) a metric the expression names was not measured, or the
            expression does not give a number.
    """
    from runtime.gates import parse_condition

    expr = parse_condition(source)

    def fitness(metrics: dict) -> float:
        try:
            value = evaluate(expr, metrics)
        except ExpressionError as e:
            known = ", ".join(sorted(metrics))
            raise ValueError(f"fitness `{source}` cannot be evaluated: {e} "
                             f"(measured: {known})") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"fitness `{source}` gives {value!r}, not a number")
        return float(value)

    return fitness
