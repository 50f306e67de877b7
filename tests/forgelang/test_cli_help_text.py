"""Every option of ``forge apply``, ``generate`` and ``export`` says what it does in --help."""

from __future__ import annotations

import pytest

from forgelang.cli import main


def _help(capsys, command: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_apply_selection_options_have_help(capsys):
    text = _help(capsys, "apply")
    assert "--only PHASE[,PHASE] run only these phases" in text
    assert "--from PHASE run PHASE and every later phase, re-running PHASE" in text
    assert "--force PHASE[,PHASE] re-run these phases (comma-separated) and everything downstream" in text


@pytest.mark.parametrize("command", ["generate", "export"])
def test_model_commands_explain_model(capsys, command):
    text = _help(capsys, command)
    assert "a registry id, a sha256 prefix, a phase name of the last run, or a model " \
           "directory" in text
