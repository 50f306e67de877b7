"""Values are bounded: lets and presets that repeat each other, long chains of lets,
text and integers built by expressions, and operator chains the parser would recurse on
are refused with a located diagnostic (E092, E004, E051), never a hang or a traceback."""

from __future__ import annotations

import pytest

from forgelang import api, value_size
from forgelang.diagnostics import DiagnosticError
from forgelang.fmt import format_text
from tests.forgelang.forge_subprocess import run_forge

HEAD = 'forge 1\nrecipe "r" { seed = 1 }\n'  # the lets below start on line 3
PHASE = "phase cognate {{ architecture = smoke  {key} = {value} }}\n"


def _repeated(name: str, base: str, levels: int, joiner: str) -> str:
    """`let x0 = base`, then each `let xI` repeats `x(I-1)` eight times."""
    lines = [f"let {name}0 = {base}\n"]
    for i in range(1, levels):
        lines.append(f"let {name}{i} = " + joiner.join([f"{name}{i - 1}"] * 8) + "\n")
    return "".join(lines)


def _errors(text: str, overrides=()) -> list:
    return [d for d in api.validate(text=text, overrides=overrides) if d.severity == "error"]


def test_lets_repeating_each_other_are_refused_at_the_first_too_large(tmp_path):
    """The issue's 1.5 KB recipe: 30 lets, each eight copies of the one before (8**30)."""
    lets = "".join(f"let a{i} = [" + ", ".join([f"a{i - 1}"] * 8) + "]\n" for i in range(1, 30))
    text = HEAD + "let a0 = [1, 1, 1, 1, 1, 1, 1, 1]\n" + lets + \
        PHASE.format(key="levels", value="a29")
    assert len(text) < 2500
    (tmp_path / "r.forge").write_text(text)
    done = run_forge("validate", "r.forge", cwd=tmp_path)
    assert done.returncode == 1
    # a5 is the first over 100,000 elements (8**6 and more); the rest reuse its stand-in
    assert "r.forge:8:10: error[E092]: this value holds 299,593 elements" in done.stderr
    assert done.stderr.count("error[") == 1, done.stderr


@pytest.mark.parametrize("case, where, message", [
    ("presets", (8, 11), "this value holds 299,593 elements"),
    ("text", (9, 10), "text longer than 1,048,576 characters"),
    ("integers", (8, 10), "integer result out of range"),
])
def test_values_built_by_repetition_are_refused(tmp_path, case, where, message):
    body = {
        "presets": "preset p0 { a = 1 b = 1 c = 1 d = 1 e = 1 f = 1 g = 1 h = 1 }\n" + "".join(
            f"preset p{i} {{ " + " ".join(f"{k} = p{i - 1}" for k in "abcdefgh") + " }\n"
            for i in range(1, 30)) + PHASE.format(key="optimizer", value="p29"),
        "text": _repeated("s", '"abcdefgh"', 30, " + ") + PHASE.format(key="data", value="s29"),
        "integers": "let n0 = 10\n" + "".join(f"let n{i} = n{i - 1} * n{i - 1}\n"
                                            for i in range(1, 40))
        + PHASE.format(key="steps", value="n39"),
    }[case]
    (tmp_path / "r.forge").write_text(HEAD + body)
    done = run_forge("validate", "r.forge", cwd=tmp_path)
    assert done.returncode == 1
    assert f"r.forge:{where[0]}:{where[1]}: error[E092]: {message}" in done.stderr, done.stderr


def test_five_thousand_chained_lets_resolve_without_recursion():
    lets = "let x0 = 7\n" + "".join(f"let x{i} = x{i - 1}\n" for i in range(1, 5000))
    plan, diags = api.check(text=HEAD + lets + PHASE.format(key="steps", value="x4999"))
    assert not diags.errors
    assert plan.step("cognate").params["steps"] == 7


def test_a_cycle_of_five_thousand_lets_is_one_error():
    lets = "let x0 = x4999\n" + "".join(f"let x{i} = x{i - 1}\n" for i in range(1, 5000))
    errors = _errors(HEAD + lets + PHASE.format(key="steps", value="x4999"))
    cycles = [d for d in errors if d.code == "E051"]
    assert len(cycles) == 1 and "refers to itself" in cycles[0].message


def test_values_nested_deeper_than_64_are_refused_at_the_let():
    lets = "let x0 = 1\n" + "".join(f"let x{i} = [x{i - 1}]\n" for i in range(1, 200))
    (error,) = _errors(HEAD + lets + PHASE.format(key="levels", value="x199"))
    assert error.code == "E092" and "nests lists and blocks 65 deep" in error.message
    assert (error.span.line, error.span.col) == (3 + 65, 11)  # `[x64]` of `let x65`


def test_the_recipes_blocks_together_are_bounded(monkeypatch):
    monkeypatch.setattr(value_size, "MAX_TOTAL_ELEMENTS", 60)
    levels = "[" + ", ".join(["1"] * 30) + "]"
    phases = "".join(f"phase cognate as c{i} {{ architecture = smoke  levels = {levels} }}\n"
                     for i in range(3))
    (error,) = _errors(HEAD + phases)
    assert error.code == "E092" and "more than 60 elements in all" in error.message
    assert (error.span.line, error.span.col) == (4, 1)  # the second phase goes over


@pytest.mark.parametrize("expression, code, col", [
    ("+".join(["1"] * 20_000), "E004", 266),  # the 129th `+`
    ("-" * 20_000 + "1", "E004", 137),
    ("not " * 20_000 + "true", "E004", 521),
    ("9" * 5000, "E092", 9),
], ids=["plus", "minus", "not", "digits"])
def test_expressions_the_parser_would_recurse_on_are_diagnostics(expression, code, col):
    (error,) = _errors(HEAD + f"let v = {expression}\n" + PHASE.format(key="steps", value="v"))
    assert (error.code, error.span.line, error.span.col) == (code, 3, col)


def test_operators_are_counted_along_one_path_not_per_recipe():
    terms = " + ".join(f"{i} * 2" for i in range(64))  # 127 operators in one expression
    items = ", ".join(["1 + 1"] * 500)  # 500 short expressions side by side
    text = HEAD + f"let f = {terms}\nlet l = [{items}]\n" + PHASE.format(key="steps", value="f")
    assert _errors(text) == []


def test_brackets_five_thousand_deep_are_a_diagnostic():
    (error,) = _errors(HEAD + "let v = " + "[" * 5000 + "1" + "]" * 5000 + "\n")
    assert error.code == "E004" and error.span.line == 3


def test_overrides_and_fmt_report_long_chains_too():
    chain = "+".join(["1"] * 500)
    codes = {d.code for d in _errors(HEAD + PHASE.format(key="steps", value="1"),
                                     overrides=[f"cognate.steps={chain}"])}
    assert {"E004", "E100"} <= codes
    with pytest.raises(DiagnosticError, match="E004"):
        format_text(HEAD + f"let v = {chain}\n")
