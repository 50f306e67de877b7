"""What a phase's ``data`` may name: one rule, checked by ``forge validate``/``plan`` and
again by ``forge apply`` when the file is read (``runtime.data.jsonl.load_jsonl``).

A data file is a path ending in ``.jsonl`` (relative paths are read from the recipe's
folder) to a regular file of at most ``MAX_DATA_BYTES``. It may lie anywhere (it is only
ever read) and may be a symbolic link: the link is followed when the file is read, and
the plan keeps the path as written (its folders resolved), so the name that was checked
is the name that apply checks again. A FIFO, a device, a directory or a bigger file is
refused before anything is read. Stdlib only, like the rest of forgelang.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from forgelang.files import open_regular

DATA_SUFFIX = ".jsonl"
# JsonlSource holds every example in memory and tokenises each one before training (a
# few times the file's size in RAM); 256 MiB is over a million typical examples, more
# than a phase here trains on.
MAX_DATA_BYTES = 256 << 20


class NotADataFile(OSError):
    """A data path whose name does not end in ``.jsonl`` (an OSError, like every other
    reason a data file cannot be read)."""


SUITE = "suite"  # the deterministic synthetic task suite built by the runtime


def data_value(value: str) -> str:
    """A ``data`` value as written: ``suite`` or a name ending in ``.jsonl`` (the rest of
    the rule is checked when the file is opened). Raises ValueError otherwise."""
    if value == SUITE or value.endswith(DATA_SUFFIX):
        return value
    raise ValueError(f"data must be `suite` or a path to a .jsonl file, got {value!r}")


def data_path(value: str | Path, base_dir: Path) -> Path:
    """The absolute path a ``data`` value names: relative to ``base_dir`` (the recipe's
    folder), ``~`` expanded, its folders' symbolic links resolved and its own name kept
    as written (a link named ``train.jsonl`` stays ``train.jsonl``)."""
    path = base_dir / Path(value).expanduser()
    return path.parent.resolve() / path.name


def check_data_name(path: Path) -> None:
    """Raise ``NotADataFile`` unless ``path``'s name ends in ``.jsonl``."""
    if not path.name.endswith(DATA_SUFFIX) or path.name == DATA_SUFFIX:
        raise NotADataFile(f"{path}: a data file's name ends in {DATA_SUFFIX}")


def open_data_file(path: str | Path, max_bytes: int | None = None) -> BinaryIO:
    """Open a data file for binary reading, after checking the whole rule (``max_bytes``
    defaults to ``MAX_DATA_BYTES``).

    Raises:
        NotADataFile: the name does not end in ``.jsonl``.
        forgelang.files.NotRegularFile: it is (or links to) a FIFO, device or directory.
        forgelang.files.FileTooLarge: it is bigger than ``max_bytes``.
        OSError: it does not exist or cannot be opened.
    """
    path = Path(path)
    check_data_name(path)
    if not path.exists():
        broken = " (a symbolic link to nothing)" if path.is_symlink() else ""
        raise FileNotFoundError(f"no such file: {path}{broken}")
    return open_regular(path, MAX_DATA_BYTES if max_bytes is None else max_bytes)


def check_data_file(path: str | Path, max_bytes: int | None = None) -> None:
    """Check the rule without reading: ``open_data_file``'s errors, or nothing."""
    with open_data_file(path, max_bytes):
        pass


__all__ = ["DATA_SUFFIX", "MAX_DATA_BYTES", "SUITE", "NotADataFile", "check_data_file",
           "check_data_name", "data_path", "data_value", "open_data_file"]
