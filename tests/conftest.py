"""Shared fixtures. Tests run on CPU with tiny models; W&B never goes online."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
# One BLAS/OpenMP thread per test process (and the subprocesses tests start), set before
# torch is imported: tiny models gain nothing from intra-op threads, and where cores are
# shared, oversubscribed threads cost several times the work (tests/runtime/nn took 41 s
# with one thread and 179-259 s without, side by side under load on 2 cores).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "recipes"


@pytest.fixture
def recipe_dir(tmp_path: Path) -> Path:
    """An empty folder to write recipes (and their imports) into."""
    return tmp_path


@pytest.fixture(autouse=True)
def _isolated_calibration(tmp_path_factory, monkeypatch):
    """Never read or write the user's real calibration file."""
    path = tmp_path_factory.mktemp("cal") / "calibration.json"
    monkeypatch.setenv("FORGE_CALIBRATION", str(path))
    monkeypatch.setenv("FORGE_CACHE_DIR", str(tmp_path_factory.mktemp("plans")))
