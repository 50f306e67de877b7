"""After Ctrl-C the resume message is the exact command, shell-quoted; an empty plan is
refused instead of "completing"."""

from __future__ import annotations

import json
import shlex

import pytest
import untrusted_plans as up

from forgelang import cli
from forgelang.plan import Plan
from runtime import orchestrator
from runtime.kernels import KernelRegistry
from runtime.orchestrator import PipelineOrchestrator

RESUME = "Resume with the same command: "


class CtrlCKernel:
    def run(self, ctx, params, inputs):
        raise KeyboardInterrupt


@pytest.fixture
def interrupting(monkeypatch):
    kernels = KernelRegistry()
    kernels.register("noop", CtrlCKernel)
    monkeypatch.setattr(orchestrator, "_builtin_kernels", lambda: kernels)
    return kernels


def test_the_resume_command_keeps_every_option(tmp_path, capsys, interrupting):
    plan, workspace = tmp_path / "my plan.json", tmp_path / "work space"
    plan.write_text(json.dumps(up.noop_plan()))
    argv = ["apply", str(plan), "--workspace", str(workspace), "--only", "a,b",
            "--force", "b", "--json"]
    assert cli.main(argv) == 130
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    message = events[-1]["message"]
    assert events[-1]["event"] == "run_finished" and RESUME in message
    assert shlex.split(message.split(RESUME, 1)[1]) == ["forge", *argv]


def test_the_resume_command_keeps_set(tmp_path, interrupting):
    plan = Plan.from_json(up.noop_plan())
    with PipelineOrchestrator(plan, tmp_path / "ws", overrides=["a.note=two words"],
                              from_="a", output="quiet") as pipeline:
        result = pipeline.run_full_pipeline()
    assert result.exit_code == 130
    argv = shlex.split(result.message.split(RESUME, 1)[1])
    assert argv[argv.index("--set") + 1] == "a.note=two words"
    assert argv[argv.index("--from") + 1] == "a" and "--json" not in argv


def test_a_plan_without_phases_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(orchestrator, "_builtin_kernels", up.noop_kernels)
    empty = Plan.from_json({**up.noop_plan(), "phases": [], "gates": []})
    with PipelineOrchestrator(empty, tmp_path / "ws", output="quiet") as pipeline:
        result = pipeline.run_full_pipeline()
    assert result.exit_code == 2 and result.status == "refused"
    assert "no phases" in result.message
    path = tmp_path / "empty.json"
    path.write_text(json.dumps({**up.noop_plan(), "phases": [], "gates": []}))
    assert cli.main(["apply", str(path), "--workspace", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err
    assert "phases" in err and len(err.strip().splitlines()) == 1
