"""Training-stage checkpoints: resume exactly, and never use a bad or stale checkpoint."""

import threading

import pytest
import torch

from runtime.checkpoints import (
    CheckpointError,
    load_checkpoint,
    manifest_path,
    save_checkpoint,
)
from runtime.kernels import PhaseContext, StopRequested
from runtime.nn import TrmTitansMagForCausalLM, preset_config
from runtime.optim import MuGrokfast
from runtime.phases.toolkit.stage import TrainingStage, train_stage


def _model(seed: int = 0):
    torch.manual_seed(seed)
    return TrmTitansMagForCausalLM(preset_config("smoke"))


def _optimizer(model):
    return MuGrokfast.from_config(model, {"muon_lr": 0.02, "adam_lr": 1e-2})


def _ctx(root, stop=None) -> PhaseContext:
    root.mkdir(parents=True, exist_ok=True)
    return PhaseContext(run_id="r", phase="p", kind="cognate", device="cpu", seed=0,
                        workspace=root, run_dir=root, checkpoint_dir=root, work_dir=root,
                        stop_event=stop or threading.Event())


def _batches():
    gen = torch.Generator().manual_seed(5)
    ids = torch.randint(4, 60, (8, 2, 12), generator=gen)  # (steps, B, T)
    return lambda step: (ids[step], ids[step].clone())


STAGE = TrainingStage(name="s", steps=6, seed=11, warmup_steps=2)


def _run(ctx, model):
    return train_stage(ctx, STAGE, model, _batches, lambda: _optimizer(model))


def _stopped_run(ctx, model, after: int):
    """Train until ``after`` steps ran, then request a stop (as SIGTERM does)."""
    calls = []
    ctx.progress_sink = lambda f, m: calls.append(m) or (len(calls) >= after and ctx.stop_event.set())
    with pytest.raises(StopRequested):
        _run(ctx, model)
    ctx.progress_sink = lambda f, m: None
    ctx.stop_event.clear()


def test_optimiser_state_round_trips_with_int_keys_and_tuples(tmp_path):
    model = _model()
    optimizer = torch.optim.AdamW(model.parameters(), betas=(0.8, 0.9))
    model(input_ids=torch.tensor([[5, 6, 7]]), labels=torch.tensor([[5, 6, 7]])).loss.backward()
    optimizer.step()
    save_checkpoint(tmp_path, "x", {"optimizer": optimizer.state_dict(), "step": 3})
    state = load_checkpoint(tmp_path, "x")
    assert state["step"] == 3
    assert state["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.9)
    restored = torch.optim.AdamW(_model(1).parameters())
    restored.load_state_dict(state["optimizer"])
    first = next(iter(optimizer.state_dict()["state"]))
    assert torch.equal(restored.state_dict()["state"][first]["exp_avg"],
                       optimizer.state_dict()["state"][first]["exp_avg"])
    assert not list(tmp_path.glob("*.pt")) and len(list(tmp_path.glob("x.*.safetensors"))) == 1


@pytest.mark.parametrize("damage", ["flip_tensors", "truncate_tensors", "edit_json"])
def test_a_damaged_checkpoint_is_refused(tmp_path, damage):
    save_checkpoint(tmp_path, "x", {"w": torch.arange(64.0), "step": 3})
    weights = next(tmp_path.glob("x.*.safetensors"))
    data = bytearray(weights.read_bytes())
    if damage == "flip_tensors":
        data[-5] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif damage == "truncate_tensors":
        weights.write_bytes(bytes(data[: len(data) // 2]))
    else:
        path = manifest_path(tmp_path, "x")
        path.write_text(path.read_text().replace('"step", 3', '"step", 4'))
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path, "x")


def test_stop_then_resume_matches_an_uninterrupted_stage(tmp_path):
    straight = _model()
    _run(_ctx(tmp_path / "a"), straight)
    resumed = _model()
    _stopped_run(_ctx(tmp_path / "b"), resumed, after=3)
    assert (tmp_path / "b" / "s.partial.json").exists()
    resumed = _model()  # a new process: fresh weights, the checkpoint brings the rest
    _run(_ctx(tmp_path / "b"), resumed)
    assert all(torch.equal(a, b) for a, b in zip(straight.state_dict().values(),
                                                 resumed.state_dict().values(), strict=True))
    assert not (tmp_path / "b" / "s.partial.json").exists()


def test_a_corrupt_partial_checkpoint_restarts_the_stage_with_a_warning(tmp_path):
    straight = _model()
    _run(_ctx(tmp_path / "a"), straight)
    ctx = _ctx(tmp_path / "b")
    _stopped_run(ctx, _model(), after=3)
    weights = next((tmp_path / "b").glob("s.partial.*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01  # one flipped bit: used as is, it would give other weights
    weights.write_bytes(bytes(data))
    model = _model()
    with pytest.warns(UserWarning, match="s restarts from its first step"):
        _run(ctx, model)
    assert all(torch.equal(a, b) for a, b in zip(straight.state_dict().values(),
                                                 model.state_dict().values(), strict=True))
    assert (tmp_path / "b" / "s.partial.stale.json").exists()  # set aside, not used


def test_a_truncated_finished_checkpoint_reruns_the_stage(tmp_path):
    straight = _model()
    _run(_ctx(tmp_path / "a"), straight)
    ctx = _ctx(tmp_path / "b")
    _run(ctx, _model())
    weights = next((tmp_path / "b").glob("s.*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])
    model = _model()
    with pytest.warns(UserWarning, match="the stage runs again"):
        _run(ctx, model)
    assert all(torch.equal(a, b) for a, b in zip(straight.state_dict().values(),
                                                 model.state_dict().values(), strict=True))


def test_a_partial_checkpoint_of_another_optimiser_layout_restarts_the_stage(tmp_path):
    old = _model(1)
    save_checkpoint(tmp_path, "s.partial", {"model": old.state_dict(),
                                            "optimizer": torch.optim.AdamW(old.parameters()).state_dict(),
                                            "step": 5, "rng": torch.get_rng_state()})
    with pytest.warns(UserWarning, match="s restarts from its first step"):
        _run(_ctx(tmp_path), _model(2))


@pytest.mark.parametrize("damage", [{"rng": torch.zeros(3)}, {"step": 10**9}])
def test_a_partial_checkpoint_that_fails_late_leaves_no_trace_in_the_optimiser(tmp_path, damage):
    """Model and optimiser load, then the RNG state (or the step) is unusable: the stage must
    restart exactly as if there had been no checkpoint, fresh optimiser and seed included."""
    straight = _model()
    _run(_ctx(tmp_path / "a"), straight)
    ctx = _ctx(tmp_path / "b")
    stopped = _model()
    _stopped_run(ctx, stopped, after=3)
    state = load_checkpoint(ctx.checkpoint_dir, "s.partial")
    save_checkpoint(ctx.checkpoint_dir, "s.partial", {**state, **damage})
    model = _model()
    with pytest.warns(UserWarning, match="s restarts from its first step"):
        _run(ctx, model)
    assert all(torch.equal(a, b) for a, b in zip(straight.state_dict().values(),
                                                 model.state_dict().values(), strict=True))
