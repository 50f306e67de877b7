"""JSONL data is untrusted: lines and files are bounded and bad bytes are named by
file:line, before anything reaches json or the tokenizer."""

from __future__ import annotations

import pytest

from forgelang.files import FileTooLarge
from runtime.data import Example, JsonlError, jsonl, load_jsonl

GOOD = '{"prompt": "a", "answer": "b"}\n'


def test_a_line_over_the_bound_is_refused_by_file_and_line(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 64)
    path = tmp_path / "d.jsonl"
    path.write_text(GOOD + '{"prompt": "' + "x" * 100 + '", "answer": "b"}\n' + GOOD)
    with pytest.raises(JsonlError, match=r"d\.jsonl:2: line longer than 64 bytes"):
        load_jsonl(path)


def test_a_line_exactly_at_the_bound_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", len(GOOD))
    path = tmp_path / "d.jsonl"
    path.write_text(GOOD * 3)
    assert load_jsonl(path) == [Example("a", "b", "jsonl", 1)] * 3


def test_a_modestly_oversized_line_is_refused_with_the_real_bound(tmp_path):
    path = tmp_path / "d.jsonl"
    huge = '{"prompt": "' + "x" * jsonl.MAX_LINE_BYTES + '", "answer": "b"}\n'
    path.write_text(GOOD + huge)
    with pytest.raises(JsonlError, match=r"d\.jsonl:2: line longer than 8,388,608 bytes"):
        load_jsonl(path)


def test_a_file_over_the_bound_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl, "MAX_FILE_BYTES", 2 * len(GOOD))
    path = tmp_path / "d.jsonl"
    path.write_text(GOOD * 3)
    with pytest.raises(FileTooLarge, match=r"d\.jsonl is 93 bytes, over the limit of 62"):
        load_jsonl(path)


def test_invalid_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(GOOD.encode() + b'{"prompt": "\xff", "answer": "b"}\n')
    with pytest.raises(JsonlError, match=r"d\.jsonl:2: invalid UTF-8 \(byte 0xff at byte 13"):
        load_jsonl(path)


@pytest.mark.parametrize("line, message", [
    ("[" * 100_000 + "]" * 100_000, "maximum recursion depth"),
    ('{"prompt": "a", "answer": "b", "level": ' + "9" * 5000 + "}", "Exceeds the limit"),
], ids=["nesting", "digits"])
def test_json_that_python_cannot_decode_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "d.jsonl"
    path.write_text(GOOD + line + "\n")
    with pytest.raises(JsonlError, match=rf"d\.jsonl:2: invalid JSON \({message}"):
        load_jsonl(path)
