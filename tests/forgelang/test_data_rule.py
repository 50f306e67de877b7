"""A phase's `data` file: `forge validate` checks the rule that apply checks again
(forgelang/data_files.py): a .jsonl name, a regular file (links followed), bounded."""

from __future__ import annotations

import os

import pytest

from forgelang import api, data_files
from forgelang.kinds import KINDS

RECIPE = ('forge 1\nrecipe "r" {{ seed = 1 }}\n'
          'phase cognate {{ steps = 5  architecture = smoke  seq_len = 64  data = "{data}" }}\n')
LINE = '{"prompt": "a", "answer": "b"}\n'


def _check(tmp_path, data: str):
    root = tmp_path / "r.forge"
    root.write_text(RECIPE.format(data=data))
    return api.check(root)


def _data_error(tmp_path, data: str) -> str:
    plan, diags = _check(tmp_path, data)
    (error,) = [d for d in diags.sorted() if d.severity == "error"]
    assert plan is None and error.code == "E073" and (error.span.line, error.span.col) == (3, 71)
    return error.message


def test_a_link_named_jsonl_is_planned_under_its_own_name(tmp_path):
    (tmp_path / "notes.txt").write_text(LINE)
    (tmp_path / "train.jsonl").symlink_to("notes.txt")
    plan, diags = _check(tmp_path, "train.jsonl")
    assert not diags.errors
    data = plan.step("cognate").params["data"]
    assert data == str(tmp_path.resolve() / "train.jsonl")
    # what apply does with the saved params: validate them again with the kind's model
    assert KINDS.get("cognate").params.model_validate(plan.step("cognate").params).data == data


def test_folders_of_the_path_are_resolved(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "train.jsonl").write_text(LINE)
    (tmp_path / "link").symlink_to("real")
    plan, _ = _check(tmp_path, "link/train.jsonl")
    assert plan.step("cognate").params["data"] == str(tmp_path.resolve() / "real/train.jsonl")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_link_to_a_fifo_is_refused_without_opening_it(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "train.jsonl").symlink_to("pipe")
    assert "is a named pipe (FIFO), not a regular file" in _data_error(tmp_path, "train.jsonl")


def test_a_directory_named_jsonl_is_refused(tmp_path):
    (tmp_path / "d.jsonl").mkdir()
    assert "is a directory, not a regular file" in _data_error(tmp_path, "d.jsonl")


def test_a_link_to_nothing_is_refused(tmp_path):
    (tmp_path / "train.jsonl").symlink_to("gone.jsonl")
    assert "(a symbolic link to nothing)" in _data_error(tmp_path, "train.jsonl")


def test_a_file_over_the_bound_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(data_files, "MAX_DATA_BYTES", 10)
    (tmp_path / "big.jsonl").write_text(LINE)
    assert f"is {len(LINE)} bytes, over the limit of 10 bytes" in \
        _data_error(tmp_path, "big.jsonl")


def test_a_name_that_is_only_the_suffix_is_refused(tmp_path):
    (tmp_path / ".jsonl").write_text(LINE)
    assert "a data file's name ends in .jsonl" in _data_error(tmp_path, ".jsonl")
