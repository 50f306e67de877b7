"""What apply shows while a phase runs: the bar's stage, step and current metric on a
terminal; a progress line at a steady interval when the output is not a terminal."""

from __future__ import annotations

import io
import re

import forge_test_kernels as tk
import pytest
from rich.console import Console

from runtime import commands
from runtime import orchestrator as orchestrator_module
from runtime.events import ConsoleReporter
from runtime.kernels import step_message
from runtime.progress_lines import PROGRESS_INTERVAL_S, ProgressLines, progress_interval


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _event(type_: str, phase: str = "cognate", **data) -> dict:
    return {"event": type_, "run_id": "r", "phase": phase, "time": 0.0, **data}


def test_step_message_names_stage_step_and_metric():
    assert step_message("specialist1", 240, 300, loss=2.3104) == "specialist1 step 240/300 loss=2.31"
    assert step_message("pretrain", 1, 5) == "pretrain step 1/5"
    assert step_message("s", 1, 5, loss=float("nan")) == "s step 1/5"  # nothing to show
    assert step_message("seedlm", 3, 12, unit="layer", relative_error=0.0812) == \
        "seedlm layer 3/12 relative_error=0.0812"


def _terminal_reporter() -> ConsoleReporter:
    console = Console(file=io.StringIO(), force_terminal=True, width=160)
    return ConsoleReporter(console)


def test_the_bar_shows_the_current_stage_not_the_pretraining_loss():
    reporter = _terminal_reporter()
    reporter(_event("phase_started", kind="cognate"))
    reporter(_event("metric", name="loss.pretrain", value=4.5, step=10))
    reporter(_event("phase_progress", fraction=0.2,
                    message=step_message("pretrain", 10, 20, loss=4.5)))
    assert reporter.status("cognate") == "pretrain step 10/20 loss=4.5"
    # specialists log per-model losses, which reach the registry only when the model is
    # stored: the bar must follow the progress message, not keep loss.pretrain
    reporter(_event("phase_progress", fraction=0.6,
                    message=step_message("specialist1", 240, 300, loss=2.31)))
    assert reporter.status("cognate") == "specialist1 step 240/300 loss=2.31"
    reporter(_event("phase_progress", fraction=0.9, message="evaluating on held-out examples"))
    assert "loss.pretrain" not in reporter.status("cognate")
    reporter(_event("metric", name="accuracy", value=0.25, step=None))
    assert reporter.status("cognate") == "evaluating on held-out examples accuracy=0.25"
    reporter.close()


def test_the_terminal_bar_renders_the_message():
    reporter = _terminal_reporter()
    reporter(_event("phase_started", kind="cognate"))
    reporter(_event("phase_progress", fraction=0.5,
                    message=step_message("specialist1", 240, 300, loss=2.31)))
    reporter._bars.refresh()
    shown = reporter.console.file.getvalue()
    reporter.close()
    assert "specialist1 step 240/300 loss=2.31" in shown


def test_progress_lines_come_at_the_interval_with_phase_message_and_elapsed():
    clock = FakeClock()
    lines = ProgressLines(30.0, clock)
    assert lines.due() is None  # no phase runs
    lines.started("cognate")
    clock.now += 29.0
    assert lines.due() is None
    lines.progressed("cognate", 0.42, "specialist1 step 240/300 loss=2.31")
    clock.now += 1.0
    assert lines.due() == "~ cognate 42% specialist1 step 240/300 loss=2.31 (30.0s elapsed)"
    assert lines.due() is None  # one line per interval
    clock.now += 200.0
    lines.progressed("other", 0.9, "not the running phase")
    assert lines.due() == "~ cognate 42% specialist1 step 240/300 loss=2.31 (3m50s elapsed)"
    lines.ended()
    clock.now += 100.0
    assert lines.due() is None


@pytest.mark.parametrize(("value", "expected"), [("0.25", 0.25), ("0", PROGRESS_INTERVAL_S),
                                                 ("-3", PROGRESS_INTERVAL_S),
                                                 ("soon", PROGRESS_INTERVAL_S),
                                                 ("nan", PROGRESS_INTERVAL_S)])
def test_the_interval_comes_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("FORGE_PROGRESS_INTERVAL", value)
    assert progress_interval() == expected


def test_a_piped_apply_prints_progress_lines_between_started_and_done(workspace, kernels,
                                                                       monkeypatch, capsys):
    monkeypatch.setenv("FORGE_PROGRESS_INTERVAL", "0.2")
    monkeypatch.setattr(orchestrator_module, "_builtin_kernels", lambda: kernels)
    plan = tk.make_plan([("a", "train", [], {"steps": 30, "sleep": 0.05})])
    assert commands.apply(plan, workspace) == 0
    out = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(out) if line.startswith("+ a (train) started"))
    done = next(i for i, line in enumerate(out) if line.startswith("  a: done in"))
    between = out[start + 1:done]
    for line in between:  # before its first step, a phase has no message yet
        assert re.fullmatch(r"~ a \d+%( step \d+)? \(\d+\.\ds elapsed\)", line), line
    stepping = [line for line in between if " step " in line]
    assert len(stepping) >= 3, out  # 1.5 s of training, a line every 0.2 s
    assert not [line for line in out[done:] if line.startswith("~")]  # none after done


def test_apply_help_says_how_progress_checkpoints_and_ctrl_c_work(capsys):
    from forgelang.cli import main

    with pytest.raises(SystemExit):
        main(["apply", "--help"])
    said = " ".join(capsys.readouterr().out.split())
    for words in ("FORGE_PROGRESS_INTERVAL", "FORGE_CHECKPOINT_INTERVAL", "Ctrl-C"):
        assert words in said


def test_long_lines_stay_whole_in_a_log():
    out = io.StringIO()
    reporter = ConsoleReporter(Console(file=out, width=80, force_terminal=False))
    error = "stopped by the user: cognate stopped in pretrain at step 11/60 " + "x" * 40
    reporter(_event("phase_failed", status="interrupted", error=error))
    reporter(_event("warning", message="w" * 120))
    assert out.getvalue().splitlines() == [f"! cognate interrupted: {error}", "warning: " + "w" * 120]
