"""The name of the data a phase uses and measures on: ``suite``, or ``file:NAME@DIGEST``.

A phase's ``data`` is the synthetic task suite or a user's JSONL file. Numbers measured
on two different sets are not comparable (an accuracy of 0.06 on the suite says nothing
against 0.02 on a user's file), so the plan names each phase's data by this label, the
registry keeps it beside the phase's metrics, and retention and ``forge lineage``
compare labels before they compare numbers. A file's label carries the first
``DIGEST_CHARS`` hex digits of the sha256 of its content: an edited file is other data.
Stdlib only, like the rest of forgelang.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from forgelang.data_files import open_data_file

SUITE_LABEL = "suite"
FILE_PREFIX = "file:"
DIGEST_CHARS = 12
CHUNK = 1 << 20
# what a saved plan or a registry row may hold: the suite, or file:NAME[@hex digits]
LABEL_RE = re.compile(r"suite|file:[^\x00-\x1f\x7f/\\]{1,255}?(@[0-9a-f]{12})?")


def content_sha256(path: str | Path) -> str:
    """sha256 (hex) of a data file's bytes, read by the data-file rule (``.jsonl``, a
    regular file, at most ``MAX_DATA_BYTES``). Raises OSError saying why it may not be read."""
    digest = hashlib.sha256()
    with open_data_file(path) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_label(path: str | Path, sha256: str | None = None) -> str:
    """``file:NAME@DIGEST`` (``file:NAME`` when the content's digest is not known)."""
    name = Path(path).name
    return f"{FILE_PREFIX}{name}@{sha256[:DIGEST_CHARS]}" if sha256 else f"{FILE_PREFIX}{name}"


def label_of(data: str | None, sha256: str | None = None) -> str | None:
    """The label of a phase's ``data`` value (``suite`` or a path); None for None."""
    if data is None:
        return None
    return SUITE_LABEL if data == SUITE_LABEL else file_label(data, sha256)


def is_label(value: object) -> bool:
    """Whether ``value`` is a well-formed data label."""
    return isinstance(value, str) and LABEL_RE.fullmatch(value) is not None


def same_data(a: str | None, b: str | None) -> bool | None:
    """Whether two labels name the same data; None when either is unknown.

    Two files are the same data when their content digests agree (the name does not
    matter); a label without a digest (a row recorded before digests were kept)
    matches a file of the same name.
    """
    if a is None or b is None:
        return None
    if a == b:
        return True
    if not (a.startswith(FILE_PREFIX) and b.startswith(FILE_PREFIX)):
        return False
    (name_a, digest_a), (name_b, digest_b) = _parts(a), _parts(b)
    if digest_a and digest_b:
        return digest_a == digest_b
    return name_a == name_b


def changed_since_plan(label: str, path: object) -> str | None:
    """Why a step's data file no longer is the data its plan named (``label``, with the
    content's digest when planned), or None when it still is (or the step uses the suite).
    ``forge apply`` of a saved plan checks this before anything runs: a file edited since
    would be trained on under the cache key of its old content."""
    name, digest = _parts(label)
    if not name.startswith(FILE_PREFIX) or digest is None or not isinstance(path, str):
        return None
    try:
        now = content_sha256(path)
    except OSError as e:
        return f"its data file cannot be read: {e}"
    if now[:DIGEST_CHARS] != digest:
        return (f"its data file {path} changed since the plan was made (sha256 {digest}... "
                f"when planned, {now[:DIGEST_CHARS]}... now)")
    return None


def digest_of(label: str) -> str | None:
    """The content digest (``DIGEST_CHARS`` hex digits) a file label holds, or None."""
    return _parts(label)[1]


_DIGESTED = re.compile(r"(?P<name>.+)@(?P<digest>[0-9a-f]{12})")


def _parts(label: str) -> tuple[str, str | None]:
    """(``file:NAME``, digest or None) of a file label."""
    m = _DIGESTED.fullmatch(label)
    return (m["name"], m["digest"]) if m else (label, None)


__all__ = ["SUITE_LABEL", "changed_since_plan", "content_sha256", "digest_of", "file_label", "is_label", "label_of", "same_data"]
