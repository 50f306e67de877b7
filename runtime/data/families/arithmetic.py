"""Multi-step integer arithmetic in 10 levels: more digits, operands and steps per level."""

from __future__ import annotations

import random
from dataclasses import dataclass

from runtime.data.calculator import calculate
from runtime.data.example import Example, exact_match
from runtime.data.registry import check_level


@dataclass(frozen=True)
class ArithmeticLevel:
    """Shape of the expressions at one difficulty level."""

    digits: int  # max digits per operand
    operands: int  # operands = steps + 1
    operators: str
    parens: bool = False  # group one adjacent pair, changing the order of steps


# Our choice of ladder: each level adds digits, operands or an operator.
ARITHMETIC_LEVELS: dict[int, ArithmeticLevel] = {
    1: ArithmeticLevel(1, 2, "+"),
    2: ArithmeticLevel(1, 2, "+-"),
    3: ArithmeticLevel(2, 2, "+-"),
    4: ArithmeticLevel(1, 3, "+-*"),
    5: ArithmeticLevel(2, 3, "+-*"),
    6: ArithmeticLevel(2, 4, "+-*"),
    7: ArithmeticLevel(3, 3, "+-*"),
    8: ArithmeticLevel(3, 4, "+-*", parens=True),
    9: ArithmeticLevel(3, 5, "+-*", parens=True),
    10: ArithmeticLevel(4, 5, "+-*", parens=True),
}


def draw_number(rng: random.Random, digits: int) -> int:
    """A non-negative integer with at most ``digits`` digits."""
    return rng.randint(0, 10**digits - 1)


def draw_terms(rng: random.Random, level: int) -> tuple[list[int], list[str]]:
    """Operands and operators for one expression at ``level``.

    A factor on the right of ``*`` has at most half the digits (rounded up), so
    answers stay short enough for a tiny model's context.
    """
    spec = ARITHMETIC_LEVELS[check_level(level)]
    operators = [rng.choice(spec.operators) for _ in range(spec.operands - 1)]
    numbers = [draw_number(rng, spec.digits)]
    for op in operators:
        digits = (spec.digits + 1) // 2 if op == "*" else spec.digits
        numbers.append(draw_number(rng, digits))
    return numbers, operators


def draw_expression(rng: random.Random, level: int) -> str:
    """An expression string such as ``"37+4*2"`` (with one group at levels 8-10)."""
    numbers, operators = draw_terms(rng, level)
    parts = [str(n) for n in numbers]
    if ARITHMETIC_LEVELS[level].parens:
        i = rng.randrange(len(parts) - 1)
        parts[i], parts[i + 1] = "(" + parts[i], parts[i + 1] + ")"
    text = parts[0]
    for op, part in zip(operators, parts[1:], strict=True):
        text += op + part
    return text


class Arithmetic:
    """``"37+4*2="`` -> ``"45"`` (usual precedence, exact integers, may be negative)."""

    name = "arithmetic"
    summary = "multi-step integer arithmetic; levels add digits, operands and steps"

    def generate(self, rng: random.Random, level: int) -> Example:
        expression = draw_expression(rng, level)
        return Example(f"{expression}=", calculate(expression), self.name, level,
                       {"expression": expression})

    def score(self, prediction: str, example: Example) -> bool:
        return exact_match(prediction, example)
