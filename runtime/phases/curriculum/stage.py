"""The adaptive training stage, checkpointed with the curriculum's state.

Like the toolkit's ``train_stage`` (finished stage loaded, ``<stage>.partial`` resumed,
divergence guard, stop -> partial checkpoint + ``StopRequested``), but every checkpoint
also holds the :class:`~runtime.curriculum.adaptive.AdaptiveCurriculum`'s state (level,
rolling window, replay buffer, counters): the batch of a step depends on the model's
answers to the steps before it, so the model alone cannot resume the run. A checkpoint
that fails verification or no longer fits is set aside with a warning and the stage
starts again: a bad checkpoint costs time, never a wrong result.
"""

from __future__ import annotations

import copy
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
from runtime.kernels import ForgeWarning, PhaseContext, StopRequested
from runtime.phases.toolkit.stage import periodic_saver
from runtime.training import train_steps
from runtime.utils.divergence import DivergenceGuard

UNUSABLE = (CheckpointError, KeyError, RuntimeError, TypeError, ValueError, AttributeError)


@dataclass(frozen=True)
class AdaptiveStage:
    """Name (checkpoint), optimiser steps, and the seed torch gets before the first step."""

    name: str
    steps: int
    seed: int


def _restore(ctx: PhaseContext, name: str, objective, apply: Callable[[dict], object]):
    """``apply(checkpoint)``'s value; None when there is none or it cannot be used (then
    the model and curriculum are as they were and the file is set aside)."""
    if not has_checkpoint(ctx.checkpoint_dir, name):
        return None
    model_state = copy.deepcopy(objective.model.state_dict())
    curriculum_state = copy.deepcopy(objective.curriculum.state_dict())
    try:
        return apply(load_checkpoint(ctx.checkpoint_dir, name))
    except UNUSABLE as err:
        objective.model.load_state_dict(model_state)
        objective.curriculum.load_state_dict(curriculum_state)
        discard_checkpoint(ctx.checkpoint_dir, name, "bad")
        warnings.warn(f"{ctx.phase}: checkpoint {name} cannot be used "
                      f"({str(err).splitlines()[0] or type(err).__name__}); it is set aside "
                      "and the stage trains from its start", ForgeWarning, stacklevel=3)
        return None


def _load_finished(ctx: PhaseContext, stage: AdaptiveStage, objective) -> dict | None:
    def apply(state: dict) -> dict:
        objective.model.load_state_dict(state["model"])
        objective.curriculum.load_state_dict(state["curriculum"])
        return {str(k): float(v) for k, v in state["summary"].items()}

    return _restore(ctx, stage.name, objective, apply)


def _resume(ctx: PhaseContext, stage: AdaptiveStage, objective, optimizer) -> int | None:
    def apply(state: dict) -> int:
        step = int(state["step"])
        if not 0 <= step <= stage.steps:
            raise ValueError(f"step {step} is outside 0..{stage.steps}")
        objective.model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        objective.curriculum.load_state_dict(state["curriculum"])
        if objective.curriculum.next_step != step:
            raise ValueError("the curriculum state is not at the checkpoint's step")
        torch.set_rng_state(state["rng"])
        return step

    return _restore(ctx, f"{stage.name}.partial", objective, apply)


def adaptive_stage(ctx: PhaseContext, stage: AdaptiveStage, objective,
                   make_optimizer: Callable[[], torch.optim.Optimizer],
                   on_step: Callable[[int, dict], None]) -> dict:
    """Train ``objective`` (a ``CurriculumObjective``) for ``stage``, or load it finished.

    Returns:
        ``{"train_loss": last step's loss}`` (empty for 0 steps).

    Raises:
        StopRequested: a stop was requested; model, optimiser and curriculum are saved.
    """
    summary = _load_finished(ctx, stage, objective)
    if summary is not None:
        return summary
    optimizer = make_optimizer()
    torch.manual_seed(stage.seed)
    start = _resume(ctx, stage, objective, optimizer)
    if start is None:  # none, or unusable: a fresh optimiser and seed, as if it never was
        optimizer = make_optimizer()
        torch.manual_seed(stage.seed)
        start = 0
    guard = DivergenceGuard(objective, optimizer, on_event=lambda e: warnings.warn(
        f"{ctx.phase}: {stage.name} diverged at step {e['step']} ({e['reason']}); rolled back "
        f"to step {e['restored_step']} (rollback {e['retry']})", ForgeWarning, stacklevel=2))

    def partial(step: int) -> None:  # what a run resumed at ``step`` starts from
        save_checkpoint(ctx.checkpoint_dir, f"{stage.name}.partial",
                        {"model": objective.model.state_dict(),
                         "curriculum": objective.curriculum.state_dict(),
                         "optimizer": optimizer.state_dict(), "step": step,
                         "rng": torch.get_rng_state()})

    report = train_steps(objective, optimizer, objective.curriculum, stage.steps,
                         start_step=start, device=ctx.device, should_stop=ctx.should_stop,
                         on_step=on_step, guard=guard, on_safe_point=periodic_saver(ctx, partial, stage.steps))
    if report.stopped:
        partial(report.completed)
        raise StopRequested(f"{ctx.phase} stopped in {stage.name} at step "
                            f"{report.completed}/{stage.steps}")
    state = {"model": objective.model.state_dict(),
             "curriculum": objective.curriculum.state_dict()}
    summary = {"train_loss": report.losses[-1]} if report.losses else {}
    save_checkpoint(ctx.checkpoint_dir, stage.name, {**state, "summary": summary})
    remove_checkpoint(ctx.checkpoint_dir, f"{stage.name}.partial")
    return summary
