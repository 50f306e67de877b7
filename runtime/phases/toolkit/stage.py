"""A checkpointed training stage: steps, checkpoint and resume, the divergence guard.

A kernel trains in named stages (cognate: ``pretrain``, ``specialist0`` …). For each,
``train_stage`` either loads the finished stage from ``ctx.checkpoint_dir`` or trains it:

1. ``<stage>`` finished before: its weights are loaded and its summary returned;
2. otherwise the batches and optimiser are made, torch is seeded with ``stage.seed``,
   and ``<stage>.partial`` (weights, optimiser, step, RNG state), if a stop left one,
   is restored;
3. ``train_steps`` runs to ``stage.steps`` with a ``DivergenceGuard`` (NaN/inf or a loss
   spike rolls back to the last good state with a lower learning rate);
4. while it trains, ``<stage>.partial`` is saved every ``ctx.checkpoint_interval_s``
   seconds (5 minutes by default): a kill -9 loses at most that much of the stage;
5. a stop request (Ctrl-C, SIGTERM) saves ``<stage>.partial`` and raises
   ``StopRequested``; a finished stage saves ``<stage>`` and drops the partial one.

Each step reports its progress as ``step_message``: ``"specialist1 step 240/300
loss=2.31"``, the stage, its step and that step's training loss; a resumed stage says
first where it resumed (``"specialist1 resumed at step 108/300"``).

Checkpoints are ``runtime.checkpoints`` files (safetensors + JSON, hash-
verified). One that fails verification, or no longer fits the model or its optimiser
(written by other code), is set aside with a warning and the stage starts again: a bad
checkpoint costs time, never a wrong result.
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch

from runtime.checkpoints import (
    CheckpointError,
    discard_checkpoint,
    has_checkpoint,
    load_checkpoint,
    remove_checkpoint,
    save_checkpoint,
)
from runtime.kernels import ForgeWarning, PhaseContext, StopRequested, step_message
from runtime.training import train_steps
from runtime.utils.divergence import DivergenceGuard

LOGGED = ("loss", "lm_loss", "grad_norm", "lr")  # what every training step records


@dataclass(frozen=True)
class TrainingStage:
    """One stage of a phase's training.

    Attributes:
        name: checkpoint name, unique within the phase (e.g. ``specialist0``).
        steps: optimiser steps of the stage.
        seed: torch is seeded with it before the first step (and the batches use it).
        warmup_steps, min_lr_ratio: the learning-rate schedule (``train_steps``).
        model_index: the output model the stage trains, for per-model metrics; None logs
            the stage's metrics as ``<name>.<stage>`` instead.
        progress_offset, progress_total, progress_share: this stage's steps start at
            ``progress_offset`` of the phase's ``progress_total`` training steps, which
            fill ``progress_share`` of the progress bar.
    """

    name: str
    steps: int
    seed: int
    warmup_steps: int = 0
    min_lr_ratio: float = 1.0
    model_index: int | None = None
    progress_offset: float = 0
    progress_total: float = 0
    progress_share: float = 1.0


UNUSABLE = (CheckpointError, KeyError, RuntimeError, TypeError, ValueError, AttributeError)


def _checked_load(ctx: PhaseContext, name: str, model, use: Callable[[dict], object],
                  aside_as: str) -> tuple[object, str | None]:
    """``use(state)`` of checkpoint ``name``: ``(its value, None)``; ``(None, None)`` when
    there is none; ``(None, why)`` when it cannot be used: then ``model`` is back as it
    was and the checkpoint is set aside as ``<name>.<aside_as>.json``."""
    if not has_checkpoint(ctx.checkpoint_dir, name):
        return None, None
    before = copy.deepcopy(model.state_dict())
    try:
        return use(load_checkpoint(ctx.checkpoint_dir, name)), None
    except UNUSABLE as err:
        model.load_state_dict(before)
        discard_checkpoint(ctx.checkpoint_dir, name, aside_as)
        return None, str(err).splitlines()[0] or type(err).__name__


def _resume(ctx: PhaseContext, stage: TrainingStage, model, optimizer) -> int | None:
    """Restore ``<stage>.partial`` into model, optimiser and RNG: the step to resume at; 0
    without one; None when it cannot be used (the optimiser and RNG may hold part of it)."""
    def use(state: dict) -> int:
        step = int(state["step"])
        if not 0 <= step <= stage.steps:
            raise ValueError(f"step {step} is outside 0..{stage.steps}")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        return step

    step, why = _checked_load(ctx, f"{stage.name}.partial", model, use, "stale")
    if why is None:
        return step or 0
    warnings.warn(f"{ctx.phase}: the interrupted {stage.name} checkpoint cannot be used ({why}); "
                  f"{stage.name} restarts from its first step (the old file is kept as "
                  f"{stage.name}.partial.stale.json)", ForgeWarning, stacklevel=3)
    return None


def load_finished(ctx: PhaseContext, stage: str, model) -> dict | None:
    """Load finished stage ``stage`` into ``model``; its summary, or None when not finished
    (or its checkpoint failed verification: then it is set aside with a warning)."""
    def use(state: dict) -> dict:
        model.load_state_dict(state["model"])
        return {str(k): float(v) for k, v in state["summary"].items()}

    summary, why = _checked_load(ctx, stage, model, use, "bad")
    if why is not None:
        warnings.warn(f"{ctx.phase}: the checkpoint of finished stage {stage} cannot be used "
                      f"({why}); the stage runs again", ForgeWarning, stacklevel=2)
    return summary


def _share(stage: TrainingStage, done: int) -> float:
    """The phase's progress once ``done`` steps of ``stage`` ran."""
    return stage.progress_share * (stage.progress_offset + done) / max(1, stage.progress_total)


def _step_logger(ctx: PhaseContext, stage: TrainingStage) -> Callable[[int, dict], None]:
    def on_step(step: int, values: dict) -> None:
        for key in LOGGED:
            name = key if stage.model_index is not None else f"{key}.{stage.name}"
            ctx.log_metric(name, values[key], step, stage.model_index)
        for key in sorted(values.keys() - set(LOGGED)):  # the objective's own statistics
            ctx.log_metric(key, values[key], step, stage.model_index)
        ctx.progress(_share(stage, step + 1),
                     step_message(stage.name, step + 1, stage.steps, loss=values["loss"]))
    return on_step


def _save_partial(ctx: PhaseContext, stage: TrainingStage, model, optimizer, step: int) -> None:
    """Checkpoint ``<stage>.partial``: what a run resumed at ``step`` starts from."""
    save_checkpoint(ctx.checkpoint_dir, f"{stage.name}.partial",
                    {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "step": step, "rng": torch.get_rng_state()})


def periodic_saver(ctx: PhaseContext, save: Callable[[int], None], steps: int,
                   clock: Callable[[], float] = time.monotonic) -> Callable[[int], None]:
    """``step -> None``: calls ``save(step)`` when ``ctx.checkpoint_interval_s`` passed since
    the stage began or last saved (every step when the interval is 0), but not after the
    stage's last of ``steps`` steps: the finished stage is saved as done instead."""
    last = [clock()]

    def maybe_save(step: int) -> None:
        if step < steps and clock() - last[0] >= ctx.checkpoint_interval_s:
            save(step)
            last[0] = clock()
    return maybe_save


def _start(ctx: PhaseContext, stage: TrainingStage, model,
           make_optimizer: Callable[[], object]) -> tuple[object, int]:
    """The stage's optimiser and first step: restored from ``<stage>.partial`` when one is
    usable (said in the progress message), else fresh at step 0; torch is seeded."""
    optimizer = make_optimizer()
    torch.manual_seed(stage.seed)
    start = _resume(ctx, stage, model, optimizer)
    if start is None:  # an unusable checkpoint: begin afresh, as if it had never been
        optimizer = make_optimizer()
        torch.manual_seed(stage.seed)
        start = 0
    if start:
        ctx.progress(_share(stage, start), f"{stage.name} resumed at step {start}/{stage.steps}")
    return optimizer, start


def _guard(ctx: PhaseContext, stage: TrainingStage, model, optimizer) -> DivergenceGuard:
    """The stage's divergence guard; each rollback becomes a ForgeWarning."""
    guard = DivergenceGuard(model, optimizer, on_event=lambda e: warnings.warn(
        f"{ctx.phase}: {stage.name} diverged at step {e['step']} ({e['reason']}); rolled back "
        f"to step {e['restored_step']} with learning rates x{guard.lr_factor:g} "
        f"(rollback {e['retry']})", ForgeWarning, stacklevel=2))
    return guard


def train_stage(ctx: PhaseContext, stage: TrainingStage, model,
                make_batches: Callable[[], Callable], make_optimizer: Callable[[], object]) -> dict:
    """Train ``model`` for ``stage``, or load it when a checkpoint says it is done.

    Args:
        ctx: the phase context (checkpoints, metrics, progress, stop requests).
        stage: what to train and how it is named, seeded and shown.
        model: the causal LM, trained in place.
        make_batches: returns ``step -> (input_ids, labels)``; called only when training.
        make_optimizer: returns the stage's fresh optimiser over ``model``.

    Returns:
        The stage's summary: ``train_loss``, the last step's loss (empty for 0 steps).

    Raises:
        StopRequested: a stop was requested; the stage's state is checkpointed.
        DivergenceError: the loss kept diverging after every allowed rollback.
    """
    summary = load_finished(ctx, stage.name, model)
    if summary is not None:
        return summary
    batch_at = make_batches()
    optimizer, start = _start(ctx, stage, model, make_optimizer)
    report = train_steps(model, optimizer, batch_at, stage.steps, start_step=start,
                         warmup_steps=stage.warmup_steps, min_lr_ratio=stage.min_lr_ratio,
                         device=ctx.device, should_stop=ctx.should_stop,
                         on_step=_step_logger(ctx, stage),
                         guard=_guard(ctx, stage, model, optimizer),
                         on_safe_point=periodic_saver(ctx, lambda step: _save_partial(
                             ctx, stage, model, optimizer, step), stage.steps))
    if report.stopped:
        _save_partial(ctx, stage, model, optimizer, report.completed)
        raise StopRequested(f"{ctx.phase} stopped in {stage.name} at step "
                            f"{report.completed}/{stage.steps}")
    summary = {"train_loss": report.losses[-1]} if report.losses else {}
    save_checkpoint(ctx.checkpoint_dir, stage.name, {"model": model.state_dict(),
                                                     "summary": summary})
    remove_checkpoint(ctx.checkpoint_dir, f"{stage.name}.partial")
    return summary
