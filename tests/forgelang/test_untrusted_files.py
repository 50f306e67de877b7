"""Recipe files are untrusted: a FIFO, a device or a huge file is refused before reading."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from forgelang import api
from forgelang.files import FileTooLarge, NotRegularFile, read_regular
from forgelang.source import MAX_SOURCE_BYTES
from tests.forgelang.forge_subprocess import run_forge

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
RECIPE = 'forge 1\nimport "{name}"\nrecipe "r" {{ seed = 1 }}\n'


@needs_fifo
@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_a_fifo_recipe_is_refused_without_blocking(tmp_path, monkeypatch, command):
    """``apply`` too: it reads the recipe early to decide whether to start W&B's child."""
    monkeypatch.setenv("WANDB_MODE", "offline")  # the early read happens unless disabled
    os.mkfifo(tmp_path / "pipe.forge")
    done = run_forge(command, "pipe.forge", cwd=tmp_path)
    assert done.returncode == (2 if command == "apply" else 1)  # apply: refused to start
    assert "error[E007]: cannot read `pipe.forge`: it is a named pipe (FIFO), not a regular " \
           "file" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_dev_zero_is_refused_without_reading_it(tmp_path):
    done = run_forge("validate", "/dev/zero", cwd=tmp_path)
    assert done.returncode == 1
    assert "cannot read `/dev/zero`: it is a character device, not a regular file" in done.stderr


@needs_fifo
def test_an_imported_fifo_is_refused_at_the_import(tmp_path):
    os.mkfifo(tmp_path / "pipe.forge")
    (tmp_path / "r.forge").write_text(RECIPE.format(name="pipe.forge"))
    (error,) = [d for d in api.validate(tmp_path / "r.forge") if d.severity == "error"]
    assert error.code == "E007" and "named pipe (FIFO)" in error.message
    assert (Path(error.span.file).name, error.span.line, error.span.col) == ("r.forge", 2, 1)


def test_an_imported_file_over_the_bound_is_refused_at_the_import(tmp_path):
    with open(tmp_path / "huge.forge", "wb") as f:
        f.truncate(MAX_SOURCE_BYTES + 1)  # sparse: nothing is written
    (tmp_path / "r.forge").write_text(RECIPE.format(name="huge.forge"))
    (error,) = [d for d in api.validate(tmp_path / "r.forge") if d.severity == "error"]
    assert error.code == "E005" and "huge.forge` is 1.0 MB; recipes are limited" in error.message
    assert (Path(error.span.file).name, error.span.line) == ("r.forge", 2)


def test_read_regular_refuses_directories_and_files_that_are_too_big(tmp_path):
    with pytest.raises(NotRegularFile, match="is a directory, not a regular file"):
        read_regular(tmp_path, 10)
    (tmp_path / "f").write_bytes(b"x" * 11)
    with pytest.raises(FileTooLarge, match="11 bytes, over the limit of 10"):
        read_regular(tmp_path / "f", 10)
    assert read_regular(tmp_path / "f", 11) == b"x" * 11
