"""Fixtures for the runtime backbone tests: a workspace and the test-only kernels."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from forge_test_kernels import kernels_for_tests  # noqa: E402

from tests.subprocess_env import repo_pythonpath  # noqa: E402


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "ws"


@pytest.fixture
def kernels():
    return kernels_for_tests()


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """Tiny test models run fastest on one thread (and subprocesses inherit it)."""
    monkeypatch.setenv("FORGE_THREADS", "1")
    monkeypatch.setenv("PYTHONPATH", repo_pythonpath())
