"""User data as JSONL: one ``{"prompt": ..., "answer": ...}`` object per line.

The file is opened through ``forgelang.data_files``, the rule ``forge validate`` checks
too: a ``.jsonl`` name, a regular file (a link is followed; a FIFO or device is refused
before it is opened), at most ``MAX_FILE_BYTES``. Lines are read in binary, at most
``MAX_LINE_BYTES`` at a time, and decoded one by one, so an over-long line or a bad byte
is reported as ``file:line`` before it costs memory or reaches the tokenizer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from forgelang import data_files
from runtime.data.example import Example

DEFAULT_FAMILY = "jsonl"
# The whole file: the shared rule's bound (forgelang.data_files gives the reason), so
# validate refuses the same files.
MAX_FILE_BYTES = data_files.MAX_DATA_BYTES
# One line, newline included. A line is one prompt and its answer, and no phase trains on
# sequences longer than 1,000,000 tokens (seq_len's bound): 8 MiB holds that much text
# even as JSON escapes, while a longer line could only be dropped after tokenising it. A
# 200 MB line aborted the process inside the tokenizer.
MAX_LINE_BYTES = 8 << 20


class JsonlError(ValueError):
    """A line of a JSONL file is not a valid example; the message starts with file:line."""


def _field(row: dict, key: str, kind: type, where: str, default=None):
    value = row.get(key, default)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise JsonlError(f"{where}: {key!r} must be {kind.__name__}, got {value!r}")
    return value


def parse_line(line: str, where: str) -> Example:
    """One JSON object -> Example; ``where`` (``file:line``) prefixes every error."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise JsonlError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # a 5000-digit number, [[[[...]]]] nesting
        raise JsonlError(f"{where}: invalid JSON ({str(exc).split(';')[0]})") from None
    if not isinstance(row, dict):
        raise JsonlError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for key in ("prompt", "answer"):
        if key not in row:
            raise JsonlError(f"{where}: missing required key {key!r}")
    unknown = set(row) - {"prompt", "answer", "family", "level", "meta"}
    if unknown:
        raise JsonlError(f"{where}: unknown keys {sorted(unknown)}; "
                         "expected prompt, answer, family, level, meta")
    level = _field(row, "level", int, where, 1)
    if not 1 <= level <= 10:
        raise JsonlError(f"{where}: 'level' must be 1-10, got {level}")
    return Example(_field(row, "prompt", str, where), _field(row, "answer", str, where),
                   _field(row, "family", str, where, DEFAULT_FAMILY), level,
                   _field(row, "meta", dict, where, {}))


def load_jsonl(path: str | Path) -> list[Example]:
    """Read examples from a JSONL file; blank lines are skipped.

    Args:
        path: File with one object per line: ``prompt`` and ``answer`` (strings,
            required), ``family`` (string, default ``"jsonl"``), ``level`` (1-10,
            default 1), ``meta`` (object, optional).

    Raises:
        FileNotFoundError: The file does not exist.
        OSError: It may not be read as data (``forgelang.data_files``): not named
            ``.jsonl``, not a regular file, or bigger than ``MAX_FILE_BYTES``.
        JsonlError: A bad line, reported as ``file:line: what is wrong`` (invalid
            JSON or UTF-8, longer than ``MAX_LINE_BYTES``, not an example).
    """
    path = Path(path)
    examples = []
    with data_files.open_data_file(path, MAX_FILE_BYTES) as handle:
        for number, line in _lines(handle, path):
            if line.strip():
                examples.append(parse_line(line, f"{path}:{number}"))
    if not examples:
        raise JsonlError(f"{path}: no examples (the file is empty)")
    return examples


def _lines(handle: BinaryIO, path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line, refusing one over ``MAX_LINE_BYTES``, one that
    is not UTF-8, and more than ``MAX_FILE_BYTES`` in all (the file grew while read)."""
    number = total = 0
    while raw := handle.readline(MAX_LINE_BYTES + 1):
        number, total = number + 1, total + len(raw)
        if len(raw) > MAX_LINE_BYTES:
            raise JsonlError(f"{path}:{number}: line longer than {MAX_LINE_BYTES:,} bytes; "
                             "split the example or drop it")
        if total > MAX_FILE_BYTES:
            raise JsonlError(f"{path}:{number}: the file grew past {MAX_FILE_BYTES:,} bytes "
                             "while it was read")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise JsonlError(f"{path}:{number}: invalid UTF-8 (byte 0x{raw[e.start]:02x} at "
                             f"byte {e.start + 1} of the line); save the file as UTF-8") from None
        yield number, text


def save_jsonl(examples: Iterable[Example], path: str | Path) -> None:
    """Write examples in the format ``load_jsonl`` reads."""
    with Path(path).open("w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(example.to_dict(), ensure_ascii=False) + "\n")
