"""The workspace lock: one ``forge apply`` per workspace at a time (torch-free).

``fcntl.flock`` on ``WORKSPACE/apply.lock`` does the locking: the kernel releases it
when the holder dies, even by kill -9, so a lock left by a dead process is simply
taken over. The file's JSON body names the holder (pid, host, start time) for the
refusal message, and tells the next holder whose stale lock it took over.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

LOCK_FILE = "apply.lock"


class LockHeldError(RuntimeError):
    """Another process holds the workspace lock."""

    def __init__(self, workspace: Path, holder: dict):
        self.holder = holder
        started = holder.get("started")
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if started else "?"
        super().__init__(
            f"workspace {workspace} is in use by another `forge apply` (pid "
            f"{holder.get('pid', '?')} on {holder.get('host', '?')}, started {when}); wait for "
            "it to finish or stop it, or use another --workspace" + _orphan_note(holder))


def _orphan_note(holder: dict) -> str:
    pid = holder.get("pid")
    if holder.get("host") == socket.gethostname() and isinstance(pid, int) and not pid_alive(pid):
        return (f". Process {pid} is gone, but a process it started still holds the lock "
                f"file; stop that process")
    return ""


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class WorkspaceLock:
    """An exclusive, crash-safe lock on a workspace.

    Use as a context manager, or ``acquire()`` / ``release()``.

    Attributes:
        took_over: the body of a stale lock (dead holder) this lock replaced, else None.
    """

    def __init__(self, workspace: str | os.PathLike):
        self.workspace = Path(workspace)
        self.path = self.workspace / LOCK_FILE
        self.took_over: dict | None = None
        self._fd: int | None = None

    def holder(self) -> dict | None:
        """The JSON body of the lock file (the current or last holder), if any."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        try:
            return json.loads(text) if text.strip() else None
        except json.JSONDecodeError:
            return None

    def acquire(self) -> WorkspaceLock:
        """Take the lock or raise ``LockHeldError`` naming the holder."""
        self.workspace.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: a symlink planted as the lock must not make us rewrite its target
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeldError(self.workspace, self.holder() or {}) from None
        previous = self.holder()
        if previous and not self._released(previous):
            self.took_over = previous  # its holder died without releasing (crash, kill -9)
        body = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(body).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    @staticmethod
    def _released(body: dict) -> bool:
        return bool(body.get("released"))

    def release(self) -> None:
        """Mark the lock released and unlock it."""
        if self._fd is None:
            return
        body = self.holder() or {}
        body["released"] = time.time()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, json.dumps(body).encode(), 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> WorkspaceLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
