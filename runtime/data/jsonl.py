"""User data as JSONL: one ``{"prompt": ..., "answer": ...}`` object per line.

The file is opened through ``forgelang.data_files``, the rule ``forge validate`` checks
too: a ``.jsonl`` name, a regular file (a link is followed; a FIFO or device is refused
before it is opened), at most ``MAX_FILE_BYTES``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path

from forgelang.data_files import MAX_DATA_BYTES, open_data_file
from runtime.data.example import Example

DEFAULT_FAMILY = "jsonl"
MAX_FILE_BYTES = MAX_DATA_BYTES  # the shared rule's bound (its reason is given there)


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
        JsonlError: A bad line, reported as ``file:line: what is wrong``.
    """
    path = Path(path)
    examples = []
    with open_data_file(path, MAX_FILE_BYTES) as raw, \
            io.TextIOWrapper(raw, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                examples.append(parse_line(line, f"{path}:{number}"))
    if not examples:
        raise JsonlError(f"{path}: no examples (the file is empty)")
    return examples


def save_jsonl(examples: Iterable[Example], path: str | Path) -> None:
    """Write examples in the format ``load_jsonl`` reads."""
    with Path(path).open("w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(example.to_dict(), ensure_ascii=False) + "\n")
