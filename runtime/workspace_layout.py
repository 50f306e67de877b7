"""A workspace's own entries are plain files and directories, never symbolic links.

A workspace may come from someone else, so it is untrusted input (DESIGN.md, "Security
model"). A symlink in place of ``apply.lock``, ``registry.db`` or ``artifacts/`` would
make ``forge apply`` write, read or delete outside the workspace (the lock's body is
rewritten, the registry migrated, stale ``artifacts/.tmp-*`` removed), so it is refused
before anything opens them. Torch-free.
"""

from __future__ import annotations

from pathlib import Path

ENTRIES = ("apply.lock", "registry.db", "registry.db-wal", "registry.db-shm", "artifacts",
           "checkpoints", "runs")


class WorkspaceError(RuntimeError):
    """The workspace's layout is unsafe to use; the message says which entry and what to do."""


def symlinked_entry(workspace: Path, names=ENTRIES) -> Path | None:
    """The first of the workspace's own entries that is a symbolic link, if any."""
    return next((workspace / n for n in names if (workspace / n).is_symlink()), None)


def check_layout(workspace: Path) -> None:
    """Refuse a workspace whose own entries include a symbolic link.

    Raises:
        WorkspaceError: naming the link.
    """
    link = symlinked_entry(Path(workspace))
    if link is not None:
        raise WorkspaceError(symlink_message(link))


def symlink_message(link: Path) -> str:
    return (f"{link} is a symbolic link; a workspace holds plain files and directories, and "
            "Agent Forge will not follow a link out of it: move the link out of the workspace")
