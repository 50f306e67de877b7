"""Opening untrusted files without hanging or reading without end.

Recipes, imported files and JSONL data are read through ``open_regular``: the path is
checked with ``stat`` (so a device is never opened), opened without blocking (a named
pipe would otherwise wait for a writer forever), checked again with ``fstat`` on the open
descriptor (nothing can be swapped in between the check and the read), and refused unless
it is a regular file within a size bound. ``/dev/zero``, a FIFO, a socket or a directory
is refused before a byte is read. Stdlib only: forgelang never imports torch.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

# O_NONBLOCK: opening a FIFO returns at once; O_NOCTTY: a terminal device never becomes
# the controlling terminal. Neither changes how a regular file reads. Absent on Windows.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


class NotRegularFile(OSError):
    """A path that is not a regular file (a FIFO, a device, a socket, a directory).

    Attributes:
        kind: What it is instead, in words: "a named pipe (FIFO)", "a character device", ...
    """

    def __init__(self, path: Path, kind: str):
        super().__init__(f"{path} is {kind}, not a regular file")
        self.kind = kind


class FileTooLarge(OSError):
    """A regular file over the size bound the reader set.

    Attributes:
        size: The file's size in bytes (at least ``limit + 1`` when it grew while read).
        limit: The bound, in bytes.
    """

    def __init__(self, path: Path, size: int, limit: int):
        super().__init__(f"{path} is {size:,} bytes, over the limit of {limit:,} bytes")
        self.size, self.limit = size, limit


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words ("a regular file", "a named pipe (FIFO)", ...)."""
    kinds = ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a directory"),
             (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((word for test, word in kinds if test(mode)), "not a regular file")


def check_regular(path: Path, st: os.stat_result, max_bytes: int) -> None:
    """Raise ``NotRegularFile`` or ``FileTooLarge`` unless ``st`` is a small regular file."""
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(path, file_kind(st.st_mode))
    if st.st_size > max_bytes:
        raise FileTooLarge(path, st.st_size, max_bytes)


def open_regular(path: str | Path, max_bytes: int) -> BinaryIO:
    """Open a regular file of at most ``max_bytes`` bytes for binary reading.

    Symbolic links are followed; the file they lead to must be regular.

    Raises:
        NotRegularFile: ``path`` is a FIFO, device, socket or directory.
        FileTooLarge: it is bigger than ``max_bytes``.
        OSError: it cannot be opened (missing, no permission, ...).
    """
    path = Path(path)
    check_regular(path, os.stat(path), max_bytes)  # never open a device at all
    fd = os.open(path, _OPEN_FLAGS)
    try:
        check_regular(path, os.fstat(fd), max_bytes)  # what was opened, not what was checked
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (see ``open_regular``);
    ``FileTooLarge`` also when the file grows past the bound while it is read."""
    with open_regular(path, max_bytes) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileTooLarge(Path(path), len(data), max_bytes)
    return data
