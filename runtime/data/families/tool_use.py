"""Tool-use episodes: the model writes a calculator call, the runtime answers it.

Training target (see ``runtime.data.formatting``)::

    <|tool|>calc(37*91+5)<|/tool|><|result|>3372<|/result|>3372

The ``<|result|>...<|/result|>`` span is inserted by the runtime, never generated.
"""

from __future__ import annotations

import random

from runtime.data.calculator import calculate
from runtime.data.example import Example, exact_match
from runtime.data.families.arithmetic import draw_terms

OPERATOR_WORDS = {"+": "plus", "-": "minus", "*": "times"}


class ToolUse:
    """``"What is 37 times 91 plus 5?"`` -> call ``calc(37*91+5)`` -> ``"3372"``.

    Operands and operators follow the arithmetic ladder at the same level.
    """

    name = "tool_use"
    summary = "word-phrased arithmetic solved by writing a calculator tool call"

    def generate(self, rng: random.Random, level: int) -> Example:
        numbers, operators = draw_terms(rng, level)
        words, expression = [str(numbers[0])], str(numbers[0])
        for op, number in zip(operators, numbers[1:], strict=True):
            words += [OPERATOR_WORDS[op], str(number)]
            expression += f"{op}{number}"
        result = calculate(expression)
        return Example(f"What is {' '.join(words)}?", result, self.name, level,
                       {"tool_call": f"calc({expression})", "tool_result": result})

    def score(self, prediction: str, example: Example) -> bool:
        return exact_match(prediction, example)
