"""Control characters in a recipe are refused (E008, located) and never reach the
terminal raw: diagnostics print them as escapes."""

from __future__ import annotations

import re

import pytest

from forgelang import api
from forgelang.control_chars import printable
from forgelang.diagnostics import Diagnostic
from forgelang.source import Source, Span
from tests.forgelang.forge_subprocess import run_forge

RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # but "\n"
PHASE = "phase cognate { architecture = smoke }\n"


def _errors(text: str) -> list[tuple[str, int, int, str]]:
    return [(d.code, d.span.line, d.span.col, d.message)
            for d in api.validate(text=text) if d.severity == "error"]


@pytest.mark.parametrize("text, where, shown", [
    ('forge 1\nrecipe "x\x1b[2J" { seed = 1 }\n', (2, 10), "\\x1b"),
    ('forge 1\nrecipe "x" { seed = 1 }\nlet s = "a\rb"\n', (3, 11), "\\x0d"),
    ('forge 1\nrecipe "x" { seed = 1 }\nlet s = "\x07"\n', (3, 10), "\\x07"),
    ('forge 1\nrecipe "x" { seed = 1 }  # \u202e reversed\n', (2, 28), "\\u202e"),
], ids=["escape-sequence", "carriage-return", "bell", "bidi-override-in-comment"])
def test_raw_control_characters_are_refused_where_they_are(text, where, shown):
    assert _errors(text) == [("E008", *where, f"control character {shown} in the recipe")]


def test_one_per_line_and_the_file_is_not_parsed_further():
    text = 'forge 1\nrecipe "\x1b\x1b" { seed = 1 }\nlet a = "\x07"\nphase ??? {\n'
    assert [(c, line) for c, line, _, _ in _errors(text)] == [("E008", 2), ("E008", 3)]


@pytest.mark.parametrize("text, where, shown", [
    ('forge 1\nrecipe "x\\u001b[2J" { seed = 1 }\n' + PHASE, (2, 1), "\\x1b"),
    ('forge 1\nrecipe "x" { seed = 1 }\nlet s = "\\r"\n', (3, 9), "\\x0d"),
    ('forge 1\nrecipe "x" { seed = 1 }\n'
     'phase cognate { architecture = smoke  data = "\\u202egpj.jsonl" }\n', (3, 46), "\\u202e"),
], ids=["recipe-name", "let", "phase-parameter"])
def test_escaped_control_characters_in_strings_are_refused(text, where, shown):
    assert ("E008", *where, f"string holds control character {shown}") in _errors(text)


def test_tab_and_newline_in_strings_and_crlf_lines_are_fine():
    text = 'forge 1\r\nrecipe "x" { seed = 1 }\r\nlet p = "Q:\\tA\\n"\r\n' + PHASE
    assert _errors(text) == []


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_validate_and_plan_print_no_control_character(tmp_path, command):
    (tmp_path / "r.forge").write_text('forge 1\nrecipe "\x1b[2J\x07" { seed = 1 }\n' + PHASE)
    (tmp_path / "s.forge").write_text('forge 1\nrecipe "\\u001b[2J" { seed = 1 }\n' + PHASE)
    for name in ("r.forge", "s.forge"):
        done = run_forge(command, name, cwd=tmp_path)
        assert done.returncode == 1 and "error[E008]" in done.stderr
        assert not RAW.search(done.stdout + done.stderr), repr(done.stdout + done.stderr)


def test_the_renderer_escapes_and_keeps_the_underline_in_place():
    src = Source("f.forge", "let a = \x1b[2J oops\n")
    text = Diagnostic("E001", "unexpected `oops` \x07", Span("f.forge", 1, 14, 1, 18),
                      "hint \r").render({"f.forge": src})
    assert text.splitlines() == [
        "f.forge:1:14: error[E001]: unexpected `oops` \\x07",
        "   1 | let a = \\x1b[2J oops",
        "     |                 ^^^^",
        "  = hint: hint \\x0d",
    ]
    assert printable("tab\there\u2066") == "tab\\x09here\\u2066"


def test_lines_are_counted_as_the_parser_counts_them():
    src = Source("f.forge", "a\u2028b\x0cc\r\nd\n")
    assert (src.line_text(1), src.line_text(2)) == ("a\u2028b\x0cc", "d")


def test_a_set_value_with_a_control_character_is_refused(tmp_path):
    from forgelang.diagnostics import Diagnostics
    from forgelang.overrides import parse_overrides

    diags = Diagnostics()
    assert parse_overrides(['recipe.name="ab\\u001b[2Jcd"'], diags) == []
    assert [d.code for d in diags.errors] == ["E008", "E100"]
