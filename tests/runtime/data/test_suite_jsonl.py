"""User JSONL: round trip and file:line errors."""

import pytest

from runtime.data import Example, JsonlError, load_jsonl, make_split, save_jsonl


def test_round_trip_keeps_every_field(tmp_path):
    examples = make_split(["tool_use", "copy"], 20, seed=0)
    path = tmp_path / "data.jsonl"
    save_jsonl(examples, path)
    loaded = load_jsonl(path)
    assert [e.to_dict() for e in loaded] == [e.to_dict() for e in examples]


def test_minimal_lines_get_defaults_and_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text('{"prompt": "2+2=", "answer": "4"}\n\n{"prompt": "hi", "answer": "yo", '
                    '"family": "chat", "level": 3}\n', encoding="utf-8")
    assert load_jsonl(path) == [Example("2+2=", "4", "jsonl", 1), Example("hi", "yo", "chat", 3)]


@pytest.mark.parametrize(("line", "message"), [
    ('{"prompt": "a"', "invalid JSON"),
    ('["a", "b"]', "expected a JSON object"),
    ('{"prompt": "a"}', "missing required key 'answer'"),
    ('{"prompt": "a", "answer": 4}', "'answer' must be str"),
    ('{"prompt": "a", "answer": "b", "level": 12}', "'level' must be 1-10"),
    ('{"prompt": "a", "answer": "b", "lvl": 2}', "unknown keys"),
])
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "ok", "answer": "ok"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(JsonlError, match=f"bad.jsonl:2: .*{message}"):
        load_jsonl(path)


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(JsonlError, match="no examples"):
        load_jsonl(path)
