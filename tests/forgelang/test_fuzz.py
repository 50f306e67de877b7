"""Fuzzing ``api.check``: whatever the input, it returns diagnostics, never a traceback.

Random text, random bytes, mutated shipped recipes and valid-syntax random recipes go
through ``api.check(path)`` (files in a temp folder); each must finish within a time
bound. Huge and hostile inputs (deep nesting, 50 MB, invalid UTF-8, NUL bytes, empty)
must give a diagnostic quickly, not hang.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forgelang import api
from forgelang.diagnostics import Diagnostics
from tests.forgelang.recipe_strategies import recipes

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "recipes").rglob("*.forge"))
SECONDS_PER_INPUT = 2.0
FUZZ = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TOKENS = ("{", "}", "[", "]", "(", ")", "=", ",", ";", ".", '"', "#", "\n", "phase", "gate",
          "preset", "let", "import", "as", "extends", "recipe", "forge", ">=", "and", "not",
          "1e-3", "95%", "4GiB", "15m", "-", "*", "/", "\t", "\r\n", "\x00", "\\", "é")


def _check_file(path: Path) -> Diagnostics:
    """``api.check`` must return (plan, diagnostics) in time, whatever the file holds."""
    start = time.perf_counter()
    plan, diags = api.check(path)
    elapsed = time.perf_counter() - start
    assert isinstance(diags, Diagnostics)
    assert elapsed < SECONDS_PER_INPUT, f"check took {elapsed:.2f} s"
    assert (plan is None) == bool(diags.errors), "a plan exactly when there are no errors"
    for d in diags.items:  # every diagnostic renders without raising
        d.render(diags.sources)
        d.to_json()
    return diags


def _write(tmp: Path, data: bytes | str) -> Path:
    path = tmp / "fuzz.forge"
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    return path


@FUZZ
@given(st.text(max_size=400))
def test_random_text(tmp_path, text):
    _check_file(_write(tmp_path, text))


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(tmp_path, data):
    _check_file(_write(tmp_path, data))


@st.composite
def mutated_recipes(draw) -> str:
    """A shipped recipe after a few random edits: char/token insert, delete, dup, swap, cut."""
    text = draw(st.sampled_from(SEEDS)).read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("delete", "duplicate", "insert", "token", "swap", "truncate")))
        i = draw(st.integers(0, len(text)))
        if op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 12)):]
        elif op == "duplicate":
            text = text[:i] + text[i:i + draw(st.integers(1, 40))] + text[i:]
        elif op == "insert":
            text = text[:i] + draw(st.characters()) + text[i:]
        elif op == "token":
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[i:]
        elif op == "swap":
            lines = text.split("\n")
            a, b = (draw(st.integers(0, len(lines) - 1)) for _ in range(2))
            lines[a], lines[b] = lines[b], lines[a]
            text = "\n".join(lines)
        else:
            text = text[:i]
    return text


@FUZZ
@given(mutated_recipes())
def test_mutated_recipes(tmp_path, text):
    # Imports resolve against the shipped tree, so mutations exercise the loader too.
    # the pid too: test processes running side by side (pytest -n) may reuse an id
    path = ROOT / "recipes" / f".fuzz_{os.getpid()}_{id(text)}.forge"
    try:
        path.write_text(text, encoding="utf-8", newline="")
        _check_file(path)
    finally:
        path.unlink(missing_ok=True)


@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(recipes())
def test_valid_syntax_recipes_compile_without_raising(tmp_path, text):
    _check_file(_write(tmp_path, text))


def test_import_path_with_nul_escape(tmp_path):
    text = 'forge 1\nimport "a\\u0000b.forge"\nrecipe "x" { device = cpu }\nphase cognate { }\n'
    assert "E040" in _codes(_check_file(_write(tmp_path, text)))


def _codes(diags: Diagnostics) -> set[str]:
    return {d.code for d in diags.items}


def test_ten_thousand_nested_brackets(tmp_path):
    text = 'forge 1\nlet v = ' + "[" * 10_000 + "]" * 10_000 + "\n"
    assert "E004" in _codes(_check_file(_write(tmp_path, text)))
    text = 'forge 1\nlet v = ' + "(" * 10_000 + "1" + ")" * 10_000 + "\n"
    assert "E004" in _codes(_check_file(_write(tmp_path, text)))


def test_fifty_megabyte_file(tmp_path):
    line = "let v = 1  # padding padding padding padding padding padding\n"
    data = ("forge 1\n" + line * (50 * 2**20 // len(line))).encode()
    assert len(data) >= 50 * 10**6
    assert "E005" in _codes(_check_file(_write(tmp_path, data)))


def test_invalid_utf8(tmp_path):
    data = b'forge 1\nrecipe "\xff\xfe\xc3\x28" { device = cpu }\n'
    assert "E006" in _codes(_check_file(_write(tmp_path, data)))


def test_nul_bytes(tmp_path):
    data = b'forge 1\nrecipe "x" { device = cpu }\x00\nphase cognate { }\n'
    assert "E006" in _codes(_check_file(_write(tmp_path, data)))


def test_empty_file(tmp_path):
    assert {"E010", "E011"} <= _codes(_check_file(_write(tmp_path, b"")))


def test_missing_file_and_directory(tmp_path):
    assert _check_file(tmp_path / "nope.forge").errors
    assert _check_file(tmp_path).errors
