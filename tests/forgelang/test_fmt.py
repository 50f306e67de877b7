"""forge fmt: the canonical style, its properties, and the file/CLI helper."""

from __future__ import annotations

import io
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from forgelang import fmt
from forgelang.diagnostics import DiagnosticError
from forgelang.fmt import FormatterBug, fmt_files, format_module, format_text
from forgelang.parser import parse_text

sys.path.insert(0, str(Path(__file__).parent))
from recipe_strategies import recipes  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").glob("*.forge"))


def _comment_texts(text: str) -> Counter:
    return Counter(c.text for c in parse_text(text).comments)


def assert_properties(text: str) -> str:
    """fmt is idempotent, keeps the AST, and keeps every comment exactly once."""
    out = format_text(text)
    assert format_text(out) == out
    assert parse_text(out) == parse_text(text)
    assert _comment_texts(out) == _comment_texts(text)
    return out


# ---------------------------------------------------------------- properties
def assert_layout(out: str) -> None:
    """Whitespace rules that hold for any formatted file."""
    assert out == "" or (out.endswith("\n") and not out.endswith("\n\n"))
    assert "\n\n\n" not in out
    assert "\t" not in out  # the generated recipes hold tabs only between tokens
    lines = out.split("\n")
    for above, line in zip(lines, lines[1:], strict=False):
        assert line == line.rstrip(), line
        assert (len(line) - len(line.lstrip(" "))) % 2 == 0, line
        if "#" in above + line or '"' in above + line:
            continue  # a brace inside a comment or string says nothing about layout
        assert not (line == "" and above.endswith(("{", "["))), out
        assert not (above == "" and line.strip() in ("}", "]", "])", "})")), out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipes())
def test_random_recipes_keep_meaning_and_comments(text):
    assert_layout(assert_properties(text))


@pytest.mark.parametrize("path", RECIPES, ids=[p.name for p in RECIPES])
def test_shipped_recipes_keep_meaning_and_comments(path):
    assert_properties(path.read_text(encoding="utf-8"))


MESSY = """\
# header comment

forge 1
import "base.forge" as base
import "other.forge"
let lr = 1e-3   # learning rate
let steps=20_000
recipe "tiny" {  # the recipe
  seed = 42, device = "cpu"
  budget { memory = 4GiB  time = 15m }


  # model size
  model {
    d_model = 64
    layers = [1, 2,
      3]
  }
  # end of recipe
}
preset small extends base { d = 64; heads = 4 }
phase cognate as c1 extends small {
  merge = ties { density = 0.2 }
  fitness = mean(task.score, -diversity) * (1 + x)   # trailing
  opt adamw { lr = lr  betas = [0.9, 0.95] }
  x = f(1, # inside call
    2)
  empty {}
}
gate cognate {   # gate header
  on_fail = warn
  loss < 3.5  # loss ok
  accuracy >= 95%
  -x < 2
}
# end of file"""

CANONICAL = """\
# header comment

forge 1

import "base.forge" as base
import "other.forge"

let lr = 1e-3  # learning rate
let steps = 20_000

recipe "tiny" {  # the recipe
  seed = 42
  device = "cpu"
  budget { memory = 4GiB  time = 15m }

  # model size
  model {
    d_model = 64
    layers = [1, 2, 3]
  }
  # end of recipe
}

preset small extends base { d = 64  heads = 4 }

phase cognate as c1 extends small {
  merge = ties { density = 0.2 }
  fitness = mean(task.score, -diversity) * (1 + x)  # trailing
  opt adamw { lr = lr  betas = [0.9, 0.95] }
  # inside call
  x = f(1, 2)
  empty {}
}

gate cognate {  # gate header
  loss < 3.5  # loss ok
  accuracy >= 95%
  -x < 2
  on_fail = warn
}
# end of file
"""


def test_canonical_style_golden():
    assert format_text(MESSY) == CANONICAL
    assert format_text(CANONICAL) == CANONICAL


# ------------------------------------------------------------------- blocks
def test_short_block_stays_on_one_line_only_when_written_so():
    assert format_text("phase p {\n  a = 1\n}") == "phase p {\n  a = 1\n}\n"
    assert format_text("phase p {a=1,b=2}") == "phase p { a = 1  b = 2 }\n"


def test_block_with_a_block_inside_spans_lines():
    out = format_text("phase p { deep { inner { a = 1 } } }")
    assert out == "phase p {\n  deep {\n    inner { a = 1 }\n  }\n}\n"


def test_block_wider_than_100_columns_spans_lines():
    long = '"' + "x" * 80 + '"'
    out = format_text(f"phase p {{ budget {{ memory = 4GiB  note = {long} }} }}")
    assert f"    note = {long}\n" in out
    assert max(len(line) for line in out.splitlines()) <= 100


def test_nested_and_typed_items_keep_their_form():
    module = parse_text(format_text("phase p { a { x = 1 }  b ties { y = 2 }  c = ties { z = 3 } }"))
    assert [i.form for i in module.statements[0].body.items] == ["nested", "typed", "assign"]


def test_items_on_one_line_never_get_a_blank_line_between_them():
    out = format_text("let a = 1\n\nphase p { a = 1; b = [1,\n 2] }")
    assert out == "let a = 1\n\nphase p {\n  a = 1\n  b = [1, 2]\n}\n"


def test_blank_lines_inside_blocks_collapse_to_one_and_never_open_a_block():
    out = format_text("phase p {\n\n\n  a = 1\n\n\n\n  b = 2\n  c = 3\n\n}")
    assert out == "phase p {\n  a = 1\n\n  b = 2\n  c = 3\n}\n"


def test_item_keyed_or_keeps_the_comma_that_separates_it():
    out = assert_properties("phase p { a = x, or = 1 }")
    assert out == "phase p { a = x,  or = 1 }\n"
    assert_properties("phase p {\n  a = x, and = 1\n}")


# -------------------------------------------------------------------- lists
def test_list_joins_when_it_fits_and_breaks_with_trailing_commas_when_not():
    assert format_text("let a = [\n 1,\n 2,\n]") == "let a = [1, 2]\n"
    names = ", ".join(f"name_{k:02d}" for k in range(12))
    out = format_text(f"let a = mean([{names}])")
    assert out.splitlines()[0] == "let a = mean(["
    assert out.splitlines()[1] == "  name_00,"
    assert out.splitlines()[-1] == "])"


def test_list_with_comments_stays_broken():
    out = format_text("let a = [1, # one\n 2]")
    assert out == "let a = [\n  1,  # one\n  2,\n]\n"


# ------------------------------------------------------------------ literals
@pytest.mark.parametrize("literal", ["1e-3", "20_000", "15m", "4GiB", "95%", "007", "1.5h",
                                     '"\\u00e9\\t"', "2E+10"])
def test_literals_keep_their_written_text(literal):
    assert format_text(f"let a = {literal}") == f"let a = {literal}\n"


def test_expressions_print_canonically_with_parens_as_written():
    out = format_text("let a=not(x)and -y<=2*(3+z)or min(1,2,)")
    assert out == "let a = not (x) and -y <= 2 * (3 + z) or min(1, 2)\n"


# -------------------------------------------------------------------- gates
def test_gate_puts_one_condition_per_line_then_settings():
    out = format_text("gate p { on_fail = warn, a < 1; (b) > 2 }")
    assert out == "gate p {\n  a < 1\n  (b) > 2\n  on_fail = warn\n}\n"


# ----------------------------------------------------------------- comments
@pytest.mark.parametrize("text", [
    "# only a comment",
    "forge 1 # after version",
    "phase p { # header\n}",
    "phase p {\n  a = 1\n  # end of block\n}",
    "let a = 1 +  # inside an expression\n  2  # after it",
    "phase p # before the brace\n{ a = 1 }",
    "gate p { a < 1  # why\n  # own line\n  b > 2 }\n# tail",
    "let a = [  # header\n  # lead\n  1,\n  # end\n]",
    "phase p { a = 1 }\n\n\n# far away",
])
def test_comments_are_kept_exactly_once(text):
    assert_properties(text)


def test_trailing_comment_stays_on_its_line_two_spaces_before_hash():
    assert format_text("phase p {\n  a = 1 # why\n}") == "phase p {\n  a = 1  # why\n}\n"


def test_comment_inside_an_expression_moves_above_its_item():
    out = format_text("phase p {\n  a = f(1, # why\n    2)\n}")
    assert out == "phase p {\n  # why\n  a = f(1, 2)\n}\n"


def test_hash_in_a_string_is_not_a_comment():
    assert format_text('let a = "# no"') == 'let a = "# no"\n'


# ------------------------------------------------------------ edge inputs
def test_empty_file_formats_to_empty():
    assert format_text("") == ""
    assert format_text("\n\n  \n") == ""


def test_crlf_becomes_lf():
    assert format_text("forge 1\r\nlet a = 1 # c\r\n") == "forge 1\n\nlet a = 1  # c\n"


def test_lone_surrogate_in_a_name_stays_escaped():
    out = assert_properties('recipe "\\ud800x" {}')
    out.encode("utf-8")


def test_syntax_error_raises_diagnostic_and_formats_nothing():
    with pytest.raises(DiagnosticError):
        format_text("phase p { a = }")


def test_output_that_would_change_the_recipe_is_refused(monkeypatch):
    monkeypatch.setattr(fmt, "format_module", lambda m: "forge 1\n")
    with pytest.raises(FormatterBug, match="meaning"):
        format_text("forge 1 # c\nlet a = 1")
    monkeypatch.setattr(fmt, "format_module", lambda m: "forge 1\n")
    with pytest.raises(FormatterBug, match="comment"):
        format_text("forge 1 # c")


def test_format_module_matches_format_text():
    assert format_module(parse_text(MESSY)) == CANONICAL


# -------------------------------------------------------------- fmt_files
def test_check_reports_without_writing(tmp_path, capsys):
    f = tmp_path / "a.forge"
    f.write_text(MESSY, encoding="utf-8")
    assert fmt_files([f], check=True, diff=False) == 1
    assert f.read_text(encoding="utf-8") == MESSY
    assert "a.forge" in capsys.readouterr().out


def test_write_then_check_is_clean(tmp_path):
    f = tmp_path / "a.forge"
    f.write_text(MESSY, encoding="utf-8")
    assert fmt_files([f], check=False, diff=False) == 0
    assert f.read_text(encoding="utf-8") == CANONICAL
    assert fmt_files([f], check=True, diff=False) == 0


def test_diff_prints_unified_diff(tmp_path, capsys):
    f = tmp_path / "a.forge"
    f.write_text("let  a=1", encoding="utf-8")
    assert fmt_files([f], check=True, diff=True) == 1
    out = capsys.readouterr().out
    assert "--- a/" in out and "+++ b/" in out
    assert "-let  a=1\n" in out and "+let a = 1\n" in out


def test_folders_are_searched_skipping_hidden_ones(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".forge").mkdir()
    for path in (tmp_path / "sub" / "a.forge", tmp_path / ".forge" / "b.forge"):
        path.write_text("let  a=1", encoding="utf-8")
    assert fmt_files([tmp_path], check=False, diff=False) == 0
    assert (tmp_path / "sub" / "a.forge").read_text(encoding="utf-8") == "let a = 1\n"
    assert (tmp_path / ".forge" / "b.forge").read_text(encoding="utf-8") == "let  a=1"


def test_missing_path_and_syntax_error_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.forge"
    bad.write_text("phase p {", encoding="utf-8")
    assert fmt_files([tmp_path / "nope.forge"], check=False, diff=False) == 2
    assert fmt_files([bad], check=False, diff=False) == 2
    assert bad.read_text(encoding="utf-8") == "phase p {"
    assert "E003" in capsys.readouterr().err


def test_stdin_to_stdout(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("let  a=1"))
    assert fmt_files(["-"], check=False, diff=False) == 0
    assert capsys.readouterr().out == "let a = 1\n"


def test_docs_example_is_what_fmt_prints():
    doc = (ROOT / "docs" / "fmt.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in doc.split("```forge\n")[1:]]
    before, after = blocks[0], blocks[1]
    assert format_text(before) == after
