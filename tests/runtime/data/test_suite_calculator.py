"""The safe calculator: exact arithmetic, precedence, clear errors, no eval."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.data.calculator import (
    CalculatorError,
    calculate,
    evaluate,
    run_tool_call,
    tool_call_text,
)


@pytest.mark.parametrize(("expression", "value"), [
    ("37*91", "3367"), ("2+3*4", "14"), ("(2+3)*4", "20"), ("10-4-3", "3"),
    ("-5+2", "-3"), ("--2", "2"), ("7/2", "3.5"), ("1/3", "0.333333"), ("8/4", "2"),
    (" 1 +  2 ", "3"), ("2*(3+(4-1))", "12"), ("1.5*2", "3"),
])
def test_values_and_precedence(expression, value):
    assert calculate(expression) == value


@given(st.integers(-10**6, 10**6), st.integers(-10**6, 10**6), st.integers(-999, 999))
def test_matches_integer_arithmetic(a, b, c):
    assert evaluate(f"{a}+{b}*{c}") == Fraction(a + b * c)
    assert evaluate(f"({a}-{b})*{c}") == Fraction((a - b) * c)


@pytest.mark.parametrize("expression", [
    "", "2+", "(2+3", "2+3)", "2**3", "__import__('os')", "abs(-1)", "1/0", "2 3",
    "9" * 300, "(" * 40 + "1" + ")" * 40, "*".join(["99999999999"] * 5),
])
def test_rejects_what_is_not_safe_arithmetic(expression):
    with pytest.raises(CalculatorError):
        calculate(expression)


def test_tool_calls_return_results_or_error_text():
    assert tool_call_text("3*4") == "<|tool|>calc(3*4)<|/tool|>"
    assert run_tool_call("calc(37*91)") == "3367"
    assert run_tool_call("calc(1/0)").startswith("error:")
    assert run_tool_call("shell(ls)") == "error: unknown tool 'shell'"
    assert run_tool_call("37*91").startswith("error:")
