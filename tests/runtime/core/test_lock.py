"""The workspace lock: refusal names the holder; a dead holder's lock is taken over."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from runtime.lock import LockHeldError, WorkspaceLock

HOLD = ("import sys, time\nfrom runtime.lock import WorkspaceLock\n"
        "WorkspaceLock(sys.argv[1]).acquire()\nprint('locked', flush=True)\ntime.sleep(60)\n")


def _holder(workspace):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(workspace)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_apply_is_refused_then_takes_over_a_killed_holder(workspace):
    proc = _holder(workspace)
    try:
        with pytest.raises(LockHeldError) as err:
            WorkspaceLock(workspace).acquire()
        message = str(err.value)
        assert f"pid {proc.pid}" in message and socket.gethostname() in message
        assert "started 20" in message
        from runtime import commands

        assert commands.apply("unused.json", workspace) == 2  # refused, nothing ran
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    lock = WorkspaceLock(workspace).acquire()
    assert lock.took_over["pid"] == proc.pid
    assert lock.holder()["pid"] == os.getpid()
    lock.release()
    again = WorkspaceLock(workspace).acquire()  # a clean release is not "stale"
    assert again.took_over is None
    again.release()


def test_stale_body_of_a_dead_pid_is_taken_over(workspace):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    workspace.mkdir(parents=True)
    body = {"pid": dead.pid, "host": socket.gethostname(), "started": 1.0}
    (workspace / "apply.lock").write_text(json.dumps(body))
    with WorkspaceLock(workspace) as lock:
        assert lock.took_over == body
