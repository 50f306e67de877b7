"""Identities of the user's own files (input model directories, data files) for cache
keys, so an edited file re-runs the phases that read it. Stdlib only: the plan cache
checks them before anything heavy is imported.
"""

from __future__ import annotations

from pathlib import Path

from forgelang.data_files import check_data_file, data_path


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


def data_file(value: str, base_dir: Path) -> Path:
    """The absolute path of a phase's ``data`` file, relative paths taken from ``base_dir``
    (the recipe's folder), checked by the rule apply checks again
    (``forgelang.data_files``). Raises OSError saying why it may not be read."""
    path = data_path(value, base_dir)
    check_data_file(path)
    return path
