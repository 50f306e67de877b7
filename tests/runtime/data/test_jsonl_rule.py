"""`forge validate` and `forge apply` agree on what a data file may be: the runtime opens
JSONL through forgelang's rule (forgelang/data_files.py), the same one validate checks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from forgelang import api
from forgelang.data_files import NotADataFile
from forgelang.files import NotRegularFile
from runtime.data import Example, load_jsonl
from runtime.plan_loading import validated_params
from tests.subprocess_env import repo_pythonpath

RECIPE = ('forge 1\nrecipe "r" { seed = 1 }\n'
          'phase cognate { steps = 5  architecture = smoke  seq_len = 64  '
          'data = "train.jsonl" }\n')
LINE = '{"prompt": "a", "answer": "b"}\n'


def test_a_data_file_validate_accepts_is_one_apply_reads(tmp_path):
    """The issue's case: train.jsonl is a link to notes.txt."""
    (tmp_path / "notes.txt").write_text(LINE)
    (tmp_path / "train.jsonl").symlink_to("notes.txt")
    (tmp_path / "r.forge").write_text(RECIPE)
    step = api.compile_plan(tmp_path / "r.forge").step("cognate")
    params = validated_params(None, step)  # what apply does before any kernel runs
    assert load_jsonl(params.data) == [Example("a", "b", "jsonl", 1)]


def test_apply_refuses_what_validate_refuses(tmp_path):
    (tmp_path / "notes.txt").write_text(LINE)
    with pytest.raises(NotADataFile, match="a data file's name ends in .jsonl"):
        load_jsonl(tmp_path / "notes.txt")
    (tmp_path / "d.jsonl").mkdir()
    with pytest.raises(NotRegularFile, match="is a directory"):
        load_jsonl(tmp_path / "d.jsonl")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.jsonl")
    script = ("import sys\nfrom runtime.data import load_jsonl\n"
              "try:\n    load_jsonl(sys.argv[1])\nexcept OSError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "pipe.jsonl")],
                          env={**os.environ, "PYTHONPATH": repo_pythonpath()},
                          capture_output=True, text=True, timeout=120)
    assert "pipe.jsonl is a named pipe (FIFO), not a regular file" in done.stdout, done.stderr
