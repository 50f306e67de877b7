"""A training stage saves its state periodically, so a crash (kill -9, power cut) loses at
most one interval; the run after resumes mid-stage, exactly; progress says where."""

import threading

import pytest
import torch

from runtime.checkpoints import has_checkpoint, load_checkpoint
from runtime.kernels import CHECKPOINT_INTERVAL_S, PhaseContext, checkpoint_interval
from runtime.nn import TrmTitansMagForCausalLM, preset_config
from runtime.optim import MuGrokfast
from runtime.phases.toolkit.stage import TrainingStage, periodic_saver, train_stage

STAGE = TrainingStage(name="s", steps=6, seed=11, warmup_steps=2, min_lr_ratio=0.1)


class Crash(Exception):
    """Stands for the process dying in the middle of a step."""


def _model():
    torch.manual_seed(0)
    return TrmTitansMagForCausalLM(preset_config("smoke"))


def _ctx(root, interval: float, messages: list) -> PhaseContext:
    root.mkdir(parents=True, exist_ok=True)
    return PhaseContext(run_id="r", phase="p", kind="cognate", device="cpu", seed=0,
                        workspace=root, run_dir=root, checkpoint_dir=root, work_dir=root,
                        progress_sink=lambda f, m: messages.append(m),
                        stop_event=threading.Event(), checkpoint_interval_s=interval)


def _batches(crash_at: int | None = None):
    gen = torch.Generator().manual_seed(5)
    ids = torch.randint(4, 60, (8, 2, 12), generator=gen)  # (steps, B, T)

    def batch_at(step: int):
        if step == crash_at:
            raise Crash(f"died before step {step}")
        return ids[step], ids[step].clone()
    return lambda: batch_at


def _run(ctx, model, crash_at=None):
    return train_stage(ctx, STAGE, model, _batches(crash_at),
                       lambda: MuGrokfast.from_config(model, {"muon_lr": 0.02, "adam_lr": 1e-2}))


def _same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(),
                                                 strict=True))


def test_a_crash_mid_stage_resumes_from_the_periodic_checkpoint_exactly(tmp_path):
    straight = _model()
    _run(_ctx(tmp_path / "a", 300.0, []), straight)
    messages: list[str] = []
    ctx = _ctx(tmp_path / "b", 0.0, messages)  # 0: a checkpoint after every step
    with pytest.raises(Crash):
        _run(ctx, _model(), crash_at=4)
    assert load_checkpoint(ctx.checkpoint_dir, "s.partial")["step"] == 4
    assert messages[-1].startswith("s step 4/6 loss=")  # stage, step and its loss
    messages.clear()
    resumed = _model()  # a new process: fresh weights, the checkpoint brings the rest
    _run(ctx, resumed)
    assert messages[0] == "s resumed at step 4/6"
    assert [m.split(" loss=")[0] for m in messages[1:]] == ["s step 5/6", "s step 6/6"]
    assert _same(straight, resumed)  # optimiser, lr schedule and RNG came back too
    assert not has_checkpoint(ctx.checkpoint_dir, "s.partial")  # done: only the stage


def test_no_periodic_checkpoint_before_the_interval(tmp_path):
    ctx = _ctx(tmp_path, 3600.0, [])
    with pytest.raises(Crash):
        _run(ctx, _model(), crash_at=4)
    assert not has_checkpoint(ctx.checkpoint_dir, "s.partial")


def test_the_saver_waits_the_interval_between_saves(tmp_path):
    now, saved = [0.0], []
    ctx = _ctx(tmp_path, 300.0, [])
    save = periodic_saver(ctx, saved.append, 10, clock=lambda: now[0])
    for step, at in enumerate((100.0, 299.0, 301.0, 500.0, 602.0), start=1):
        now[0] = at
        save(step)
    assert saved == [3, 5]  # at 301 s, then 300 s after that save


def test_the_saver_leaves_the_last_step_to_the_finished_stage(tmp_path):
    saved = []
    save = periodic_saver(_ctx(tmp_path, 0.0, []), saved.append, 3)
    for step in (1, 2, 3):
        save(step)
    assert saved == [1, 2]  # step 3 ends the stage: saved as done, not as partial


@pytest.mark.parametrize(("value", "expected"), [(None, CHECKPOINT_INTERVAL_S), ("60", 60.0),
                                                 ("0", 0.0), ("-1", CHECKPOINT_INTERVAL_S),
                                                 ("often", CHECKPOINT_INTERVAL_S)])
def test_the_checkpoint_interval_defaults_to_five_minutes(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("FORGE_CHECKPOINT_INTERVAL", raising=False)
    else:
        monkeypatch.setenv("FORGE_CHECKPOINT_INTERVAL", value)
    assert CHECKPOINT_INTERVAL_S == 300.0
    assert checkpoint_interval() == expected
