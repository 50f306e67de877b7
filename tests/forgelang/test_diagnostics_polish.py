"""Diagnostics that say what to write (issue 21): unknown units, decimal memory budgets,
bounds in plain words, the resolved path of a missing import, where calibration lives."""

from __future__ import annotations

from pathlib import Path

import pytest

from forgelang import api
from forgelang.devices import calibration_path, load_calibrated, user_calibration_path

HEADER = 'forge 1\nrecipe "r" {\n  seed = 1\n  budget { %s }\n}\nphase cognate { steps = 10 }\n'


def _diags(text: str, path: Path | None = None):
    return api.check(path, text=text, plan=False)[1].sorted()


@pytest.mark.parametrize("written,fixed", [("20 minutes", "20m"), ("20min", "20m"),
                                           ("2 hours", "2h"), ("90 sec", "90s")])
def test_duration_with_an_unknown_unit_names_the_units_at_the_number(written, fixed):
    diags = _diags(HEADER % f"time = {written}")
    assert [d.code for d in diags] == ["E001"]
    d = diags[0]
    assert f"`{written}` is not a duration" in d.message and "ms, s, m" in d.message
    assert d.hint == f"write `{fixed}`"
    assert (d.span.line, d.span.col, d.span.end_col) == (4, 19, 19 + len(written))


def test_size_with_a_lowercase_unit_names_the_size_units():
    d = _diags(HEADER % "memory = 4gb  time = 5m")[0]
    assert d.code == "E001" and "`4gb` is not a size" in d.message and "GiB" in d.message
    assert d.hint == "write `4GiB`" and d.span.col == 21


def test_a_stray_name_after_a_number_that_is_no_unit_keeps_the_generic_message():
    d = _diags('forge 1\nrecipe "r" { seed = 1 }\nphase cognate { steps = 10 lr }\n')[0]
    assert d.code == "E001" and "not a duration" not in d.message


@pytest.mark.parametrize("value,binary", [("4GB", "4GiB"), ("512MB", "512MiB")])
def test_decimal_memory_budget_warns_w003(value, binary):
    diags = _diags(HEADER % f"memory = {value}")
    assert [d.code for d in diags] == ["W003"]
    assert f"`{value}`" in diags[0].message and f"`{binary}`" in diags[0].hint
    assert diags[0].span.line == 4


def test_decimal_memory_budget_through_a_variable_warns_at_the_variable():
    text = "forge 1\nlet mem = 6GB\n" + (HEADER % "memory = mem").removeprefix("forge 1\n")
    diags = _diags(text)
    assert [(d.code, d.span.line) for d in diags] == [("W003", 2)]


def test_binary_memory_budget_and_decimal_sizes_elsewhere_do_not_warn():
    assert _diags(HEADER % "memory = 4GiB  time = 5m") == []


def test_range_hint_says_must_be_with_a_symbol():
    diags = _diags('forge 1\nrecipe "r" { seed = 1 }\nphase cognate { steps = 0 }\n')
    assert [d.code for d in diags] == ["E023"]
    assert diags[0].hint == "must be ≥ 1"
    assert "allowed" not in diags[0].hint


def test_missing_import_hint_shows_the_resolved_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    recipe = tmp_path / "sub" / "r.forge"
    recipe.write_text('forge 1\nimport "lib/presets.forge"\nrecipe "r" { seed = 1 }\n')
    d = next(d for d in api.check(recipe, plan=False)[1].sorted() if d.code == "E040")
    assert str((tmp_path / "sub" / "lib" / "presets.forge").resolve()) in d.hint


def test_calibration_lives_in_the_workspace_when_one_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("FORGE_CALIBRATION", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FORGE_WORKSPACE", str(tmp_path / "ws"))
    assert calibration_path() == user_calibration_path() == \
        tmp_path / "config" / "agent-forge" / "calibration.json"
    assert calibration_path(tmp_path / "other") == tmp_path / "other" / "calibration.json"
    (tmp_path / "ws").mkdir()
    profile = {"profiles": {"cpu": {"name": "cpu", "type": "cpu", "peak_flops": 1e11,
                                    "efficiency": 0.3, "memory_bytes": 2**30}}}
    (tmp_path / "ws" / "calibration.json").write_text(__import__("json").dumps(profile))
    assert calibration_path() == tmp_path / "ws" / "calibration.json"  # the default workspace's
    assert load_calibrated()["cpu"].peak_flops == 1e11


def test_calibrate_saves_into_the_workspace_and_plans_read_it_there(tmp_path, monkeypatch):
    from forgelang.devices import BUILTIN, resolve
    from runtime.calibrate import save

    monkeypatch.delenv("FORGE_CALIBRATION", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FORGE_WORKSPACE", str(tmp_path / "default-ws"))
    ws = tmp_path / "ws"
    ws.mkdir()
    measured = __import__("dataclasses").replace(BUILTIN["cpu"], peak_flops=7e10)
    written = save({"cpu": measured}, path=calibration_path(ws))
    assert written == str(ws / "calibration.json")
    assert not user_calibration_path().exists()  # the user's file is left alone
    assert resolve("cpu", workspace=ws).peak_flops == 7e10
    assert resolve("cpu").peak_flops == BUILTIN["cpu"].peak_flops
