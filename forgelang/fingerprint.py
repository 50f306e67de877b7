"""Identities of the user's input model directories for cache keys, so an edited
directory re-runs the phases that read it (a data file is identified by the sha256 of its
content instead: ``forgelang.data_label``). Stdlib only: the plan cache checks them
before anything heavy is imported.
"""

from __future__ import annotations

from pathlib import Path


def dir_fingerprint(directory: Path) -> str:
    """Cheap identity of a directory for cache keys: names, sizes and mtimes of its files."""
    parts = []
    for f in sorted(directory.rglob("*")):
        if f.is_file():
            st = f.stat()
            parts.append(f"{f.relative_to(directory)}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def file_fingerprint(path: Path) -> str:
    """Cheap identity of one file for cache keys: its size and mtime."""
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def fingerprint(path: Path) -> str:
    """``dir_fingerprint`` or ``file_fingerprint``; raises OSError when ``path`` is gone."""
    return dir_fingerprint(path) if path.is_dir() else file_fingerprint(path)

