"""Parser: literals, spans, comments, and bad input that must never raise a traceback."""

import subprocess
import sys
import time

import pytest

from forgelang import ast
from forgelang.diagnostics import DiagnosticError
from forgelang.parser import (
    MAX_DEPTH,
    MAX_SYNTAX_ERRORS,
    decode_source,
    parse_file,
    parse_text,
)


def _value(src: str):
    return parse_text(f"let v = {src}").statements[0].value


@pytest.mark.parametrize("text,value,unit", [
    ("1e-3", 0.001, ""), ("20_000", 20000, ""), ("90s", 90.0, "duration"),
    ("15m", 900.0, "duration"), ("2h", 7200.0, "duration"), ("250ms", 0.25, "duration"),
    ("512MiB", 512 * 2**20, "size"), ("6GB", 6 * 10**9, "size"), ("4GiB", 4 * 2**30, "size"),
    ("95%", 0.95, "percent"), ("true", True, ""), ('"a\\"b"', 'a"b', ""),
])
def test_literals(text, value, unit):
    lit = _value(text)
    assert isinstance(lit, ast.Literal)
    assert lit.value == pytest.approx(value) and lit.unit == unit and lit.text == text


def test_precedence_and_spans():
    expr = _value("0.9 * accuracy + 0.1 * diversity")
    assert isinstance(expr, ast.Binary) and expr.op == "+"
    assert expr.left.op == "*" and expr.right.right == ast.Ref("diversity")
    assert (expr.span.line, expr.span.col) == (1, 9)
    assert expr.right.right.span.col == 32


def test_blocks_items_forms_and_spans():
    src = 'forge 1\nphase cognate {\n  steps = 4\n  architecture trm { d = 2 }\n  b { x = 1 }\n}'
    phase = parse_text(src, "r.forge").statements[1]
    forms = [i.form for i in phase.body.items]
    assert forms == ["assign", "typed", "nested"]
    steps = phase.body.items[0]
    assert (steps.key_span.file, steps.key_span.line, steps.key_span.col) == ("r.forge", 3, 3)
    assert phase.body.items[1].value.type == "trm"


def test_gate_conditions_split_on_newlines_and_may_start_with_minus():
    gate = parse_text("gate x {\n  a >= 1\n  -b < 2\n  (c) > 0, on_fail = warn\n}").statements[0]
    assert len(gate.conditions) == 3
    assert gate.settings[0].key == "on_fail"


def test_equality_ignores_spans_and_comments():
    a = parse_text("forge 1 # c\nlet x = [1, 2]")
    b = parse_text("forge   1\n\n\nlet x = [1,2,]")
    assert a == b


def test_comments_are_collected_with_positions():
    m = parse_text('# top\nlet x = "# not a comment"  # trailing\n')
    assert [(c.text, c.line, c.own_line) for c in m.comments] == [
        ("# top", 1, True), ("# trailing", 2, False)]


@pytest.mark.parametrize("src,code,line,col", [
    ("phase cognate { steps: 400 }", "E002", 1, 22),
    ("phase cognate { steps 400 }", "E001", 1, 23),
    ('phase x { a = "abc }', "E002", 1, 15),
    ("forge 1\nphase x {\n a = 1\n", "E003", 3, 6),
    ("let a = " + "[" * 100, "E004", 1, 9 + MAX_DEPTH),
])
def test_syntax_errors_have_code_and_position(src, code, line, col):
    with pytest.raises(DiagnosticError) as info:
        parse_text(src, "b.forge")
    d = info.value.diagnostics[0]
    assert (d.code, d.span.line, d.span.col) == (code, line, col)
    assert d.hint


def test_deep_nesting_is_refused_quickly():
    t0 = time.perf_counter()
    with pytest.raises(DiagnosticError):
        parse_text("let a = " + "(" * 10_000 + "1" + ")" * 10_000)
    assert time.perf_counter() - t0 < 5


def test_invalid_utf8_and_binary_are_diagnostics():
    with pytest.raises(DiagnosticError) as info:
        decode_source(b"forge 1\nlet a = \xff\xfe", "x.forge")
    d = info.value.diagnostics[0]
    assert d.code == "E006" and d.span.line == 2 and d.span.col == 9
    with pytest.raises(DiagnosticError) as info:
        decode_source(b"\x00\x01\x02", "x.forge")
    assert info.value.diagnostics[0].code == "E006"


def test_huge_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "big.forge"
    path.write_bytes(b"#" * (50 * 10**6))
    with pytest.raises(DiagnosticError) as info:
        parse_file(path)
    assert info.value.diagnostics[0].code == "E005"


def test_render_underlines_the_span():
    with pytest.raises(DiagnosticError) as info:
        parse_text("forge 1\nphase cognate { steps 400 }", "r.forge")
    text = info.value.render()
    assert text.splitlines()[0].startswith("r.forge:2:23: error[E001]:")
    assert "   2 | phase cognate { steps 400 }" in text
    assert text.splitlines()[2].endswith("^^^")


def _diagnostics(src: str) -> list[tuple[str, int, int]]:
    with pytest.raises(DiagnosticError) as info:
        parse_text(src, "b.forge")
    return [(d.code, d.span.line, d.span.col) for d in info.value.diagnostics]


def test_two_statements_with_syntax_errors_get_two_diagnostics():
    src = ('forge 1\nrecipe "x" {\n  seed: 1\n}\nphase cognate {\n  steps 400\n}\n'
           "phase evomerge { generations = 2 }\n")
    assert _diagnostics(src) == [("E002", 3, 7), ("E001", 6, 9)]


def test_recovery_resumes_at_each_statement_and_keeps_exact_positions():
    src = ('forge 1\nphase a { x = [1 2] }\nlet = 3\ngate { a > 1 }\n'
           'let ok = 1\n  let b = "abc\n')
    assert _diagnostics(src) == [("E001", 2, 18), ("E001", 3, 5), ("E001", 4, 6),
                                 ("E002", 6, 11)]


def test_an_unclosed_block_is_reported_and_the_next_statement_still_checked():
    assert _diagnostics("phase a {\n  x = 1\nphase b { y = }\n") == [
        ("E001", 3, 1), ("E001", 3, 15)]


def test_only_the_first_mistake_of_a_statement_is_reported():
    assert _diagnostics("phase a {\n  x 1\n  y 2\n}\n") == [("E001", 2, 5)]


def test_syntax_errors_are_capped():
    codes = _diagnostics("let a = 1 +\n" * (2 * MAX_SYNTAX_ERRORS))
    assert len(codes) == MAX_SYNTAX_ERRORS


def test_syntax_errors_module_does_not_import_the_parser():
    script = """if True:
        import sys
        from lark.exceptions import UnexpectedInput
        from forgelang.grammar import lark_parser
        from forgelang.syntax_errors import classify
        try:
            lark_parser().parse("phase cognate { steps: 400 }")
        except UnexpectedInput as e:
            assert classify("", e, "?")[0] == "`:` is not used in .forge files"
        assert "forgelang.parser" not in sys.modules
    """
    subprocess.run([sys.executable, "-c", script], check=True)
