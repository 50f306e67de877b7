"""A kernel's ForgeWarning reaches the user as a warning event, recorded in the registry."""

from __future__ import annotations

import json
import sqlite3
import warnings

import forge_test_kernels as tk
import pytest

from runtime.kernels import ForgeWarning
from runtime.orchestrator import PipelineOrchestrator


class WarningTrainKernel(tk.TrainKernel):
    def run(self, ctx, params, inputs):
        warnings.warn("the interrupted stage checkpoint cannot be used", ForgeWarning,
                      stacklevel=2)
        warnings.warn("some library's own warning", DeprecationWarning, stacklevel=2)
        return super().run(ctx, params, inputs)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_forge_warning_becomes_a_warning_event(workspace, kernels, capsys):
    kernels.register("warn_train", WarningTrainKernel)
    plan = tk.make_plan([("a", "warn_train", [], {"steps": 5})])
    with PipelineOrchestrator(plan, workspace, kernels=kernels, output="json") as p:
        assert p.run_full_pipeline().exit_code == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()
              if line.startswith("{")]
    shown = [e for e in events if e["event"] == "warning"]
    assert [(e["phase"], e["message"]) for e in shown] == [
        ("a", "the interrupted stage checkpoint cannot be used")]
    with sqlite3.connect(workspace / "registry.db") as db:
        rows = db.execute("SELECT phase, data FROM events WHERE type = 'warning'").fetchall()
    assert [(phase, json.loads(data)["message"]) for phase, data in rows] == [
        ("a", "the interrupted stage checkpoint cannot be used")]
