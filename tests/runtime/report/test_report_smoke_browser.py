"""A real smoke run, reported and compared (slow tier: `pytest -m slow`).

Two runs of recipes/smoke.forge, cut down with --set to minutes on CPU, differing in
one parameter (cognate.steps): `forge report` on the first makes a page that headless
Chromium loads with no console error and every chart rendered (a screenshot is saved);
`forge diff` names the parameter and the metrics it moved.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from browser_check import assert_rendered, browser, screenshot

from runtime.commands_report import diff, report
from runtime.registry import ModelRegistry
from tests.subprocess_env import ROOT, repo_pythonpath

pytestmark = pytest.mark.slow
SMALL = ["--set", "cognate.pretrain_steps=6", "--set", "cognate.merge_check=false",
         "--set", "cognate.eval.examples=8", "--set", "evomerge.eval.examples=8",
         "--set", "evomerge.generations=2"]


def _apply(workspace: Path, steps: int, only: str) -> str:
    env = {**os.environ, "PYTHONPATH": repo_pythonpath(), "FORGE_THREADS": "1",
           "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    done = subprocess.run([sys.executable, "-m", "forgelang.cli", "apply",
                           str(ROOT / "recipes" / "smoke.forge"), "--workspace", str(workspace),
                           "--only", only, "--set", f"cognate.steps={steps}", *SMALL],
                          capture_output=True, text=True, timeout=3000, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with ModelRegistry(workspace, create=False) as reg:
        return reg.latest_run_id()


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory) -> tuple[Path, str, str]:
    workspace = tmp_path_factory.mktemp("smoke") / "ws"
    first = _apply(workspace, 12, "cognate,evomerge")
    second = _apply(workspace, 16, "cognate")
    return workspace, first, second


def test_report_of_a_smoke_run_renders_in_chromium(smoke_runs, tmp_path):
    browser()
    workspace, first, _ = smoke_runs
    page = tmp_path / "smoke-report.html"
    assert report(workspace=workspace, run=first, out=page) == 0
    text = page.read_text(encoding="utf-8")
    for section in ("graph", "estimates", "training", "evolution-1", "lineage", "retention",
                    "gates"):
        assert f'<section id="{section}">' in text
    assert_rendered(page, tmp_path)
    shot = screenshot(page, tmp_path / "smoke-report.png", tmp_path)
    assert shot.stat().st_size > 20_000


def test_diff_of_two_smoke_runs_names_the_parameter_and_what_moved(smoke_runs, capsys):
    workspace, first, second = smoke_runs
    assert diff(first, second, workspace, json=True) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["parameters"] == [{"key": "cognate.steps", "a": "12", "b": "16"}]
    cognate = next(p for p in result["phases"] if p["phase"] == "cognate")
    moved = {r["name"] for r in cognate["metrics"] if r["change"]}
    assert {"reasoning: train_loss", "measured.seconds"} <= moved
    models = [m for m in result["models"] if m["phase"] == "cognate"]
    assert len(models) == 3 and not any(m["same"] for m in models)
    assert diff(first, second, workspace) == 0
    out = capsys.readouterr().out
    assert "cognate.steps" in out and "train_loss" in out
