"""Run ``forge`` in a subprocess with a time and memory limit, for inputs that could hang
or exhaust memory: on a regression the test fails instead of taking the machine down."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

from tests.subprocess_env import repo_pythonpath

TIMEOUT_S = 60  # a refused input takes about a second; a hang fails with TimeoutExpired
MEMORY_BYTES = 4 << 30  # an unbounded read or expansion fails with MemoryError instead


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def run_forge(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``forge ARGS`` in ``cwd``: its exit code, stdout and stderr (the plan cache is the
    one conftest gives every test)."""
    env = {**os.environ, "PYTHONPATH": repo_pythonpath()}
    return subprocess.run([sys.executable, "-m", "forgelang.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT_S,
                          preexec_fn=_limit_memory)
