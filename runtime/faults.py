"""Faults of the workspace's disk or registry, said in one line (torch-free).

SQLite and the OS report a corrupt registry, a read-only workspace or a full disk as
``sqlite3.DatabaseError`` / ``OSError``; the commands turn them into one line that says
what is wrong and what to do (docs/runtime.md, "Recovering a workspace").
"""

from __future__ import annotations

import errno
import shlex
import sqlite3
from pathlib import Path

from runtime.registry import REGISTRY_FILE

RECOVERY_DOC = "docs/runtime.md, \"Recovering a workspace\""
FAULTS = (sqlite3.Error, OSError)  # what ``describe_fault`` speaks about
_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def describe_fault(error: BaseException, workspace: Path) -> str:
    """One line for a registry or disk fault in ``workspace``: what happened, what to do."""
    if isinstance(error, sqlite3.Error):
        return _sqlite_fault(str(error), Path(workspace))
    if isinstance(error, OSError):
        return _os_fault(error, Path(workspace))
    return f"{type(error).__name__}: {error}"


def _sqlite_fault(text: str, workspace: Path) -> str:
    db = workspace / REGISTRY_FILE
    low = text.lower()
    if "malformed" in low or "not a database" in low:
        aside, files = shlex.quote(str(workspace / "corrupt")), shlex.quote(str(db)) + "*"
        return (f"the registry {db} is corrupt (sqlite: {text}). Move it aside with its -wal "
                f"and -shm files (`mkdir {aside} && mv {files} {aside}/`) and apply again: "
                "artifacts are content-addressed and kept, phases re-run; to salvage its "
                f"history see {RECOVERY_DOC}")
    if "readonly" in low or "read-only" in low:
        return (f"cannot write the registry {db}: the workspace is read-only (sqlite: "
                f"{text}); make {workspace} writable, or use another --workspace")
    if "full" in low:
        return _disk_full(workspace)
    if "locked" in low or "busy" in low:
        return (f"the registry {db} stayed locked by another process (sqlite: {text}); "
                "wait for it, then try again")
    if "unable to open" in low:
        return (f"cannot open the registry {db} (sqlite: {text}); check that {workspace} "
                "is a writable directory, or use another --workspace")
    return (f"the registry {db} failed (sqlite: {text}); if this repeats, see "
            f"{RECOVERY_DOC}")


def _os_fault(error: OSError, workspace: Path) -> str:
    what = f"{error.filename}" if error.filename else str(workspace)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return _disk_full(workspace)
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (f"cannot write {what}: {error.strerror}; make {workspace} writable, or use "
                "another --workspace")
    if error.errno in (errno.ENOTDIR, errno.EEXIST):
        return workspace_problem(workspace) or (f"{what} is in the way: a file where Agent "
                                                "Forge needs a directory; move it aside")
    return f"{what}: {error.strerror or error}"


def disk_fault(error: BaseException, workspace: Path) -> str | None:
    """The line for a full or read-only disk (even under a kernel); None for other errors."""
    if isinstance(error, OSError) and error.errno in _DISK_ERRNOS:
        return _os_fault(error, Path(workspace))
    if isinstance(error, sqlite3.Error) and any(
            word in str(error).lower() for word in ("full", "readonly", "read-only")):
        return _sqlite_fault(str(error), Path(workspace))
    return None


def _disk_full(workspace: Path) -> str:
    return (f"the disk holding {workspace} is full; free some space and apply again (the "
            "completed phases are kept)")


def workspace_not_a_directory(workspace: Path) -> str:
    """The refusal when ``--workspace`` (or a folder above it) is a file."""
    return (f"the workspace {workspace} is not a directory (a file is in the way); give "
            "--workspace a directory (it is created when missing)")


def workspace_problem(workspace: Path) -> str | None:
    """Why ``workspace`` cannot be one (a file, or a file above it); None when it can."""
    for path in (workspace, *workspace.parents):
        if path.exists():
            return None if path.is_dir() else workspace_not_a_directory(workspace)
    return None
