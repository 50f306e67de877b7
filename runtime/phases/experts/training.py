"""Training one SVF expert as a checkpointed, resumable stage (``expert<k>``).

The toolkit's ``train_stage`` judges losses with a divergence guard that takes a loss
above a multiple of its recent median for a spike; a REINFORCE loss changes sign with the
rewards, so this stage runs ``runtime.training.train_steps`` without the guard and keeps
the toolkit's checkpoint layout: ``expert<k>.partial`` (z, optimiser, step, RNG) on a
stop, ``expert<k>`` (z + summary) when finished.
"""

from __future__ import annotations

import warnings

import torch

from runtime.checkpoints import (
    CheckpointError,
    discard_checkpoint,
    has_checkpoint,
    load_checkpoint,
    remove_checkpoint,
    save_checkpoint,
)
from runtime.data.splits import derive_seed
from runtime.kernels import ForgeWarning, PhaseContext, StopRequested
from runtime.phases.experts.questions import length_batches, training_pool
from runtime.phases.toolkit.stage import load_finished, periodic_saver
from runtime.svf.reinforce import ReinforceSettings, SvfObjective
from runtime.training import train_steps


def stage_seed(seed: int, name: str) -> int:
    """A torch-sized seed per part of the phase."""
    return derive_seed("experts", seed, name) % 2**63


def _resume(ctx: PhaseContext, name: str, objective, optimizer, steps: int) -> int:
    """The step to continue at (0 without a usable ``<name>.partial``)."""
    partial = f"{name}.partial"
    if not has_checkpoint(ctx.checkpoint_dir, partial):
        return 0
    try:
        state = load_checkpoint(ctx.checkpoint_dir, partial)
        step = int(state["step"])
        if not 0 <= step <= steps:
            raise ValueError(f"step {step} is outside 0..{steps}")
        objective.load_state_dict(state["z"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        return step
    except (CheckpointError, KeyError, RuntimeError, TypeError, ValueError) as err:
        discard_checkpoint(ctx.checkpoint_dir, partial, "stale")
        warnings.warn(f"{ctx.phase}: the interrupted {name} checkpoint cannot be used ({err}); "
                      f"{name} restarts", ForgeWarning, stacklevel=2)
        return -1


def train_expert(ctx: PhaseContext, params, model, factors, tokenizer, skill: str, k: int,
                 seq_len: int, progress) -> tuple[dict[str, torch.Tensor], dict]:
    """Train (or load) expert ``k`` for ``skill``: its whole z vectors and its summary.

    Args:
        progress: ``(step, steps, loss) -> None``, called after each step.
    """
    name = f"expert{k}"
    pool = training_pool(params, skill, tokenizer, ctx.seed, min(seq_len, params.seq_len))
    settings = ReinforceSettings(params.svf.kl_coefficient, params.eval.max_new_tokens,
                                 f"svf.{skill}")
    objective = SvfObjective(model, factors, params.svf.rank, pool, tokenizer, settings)
    summary = load_finished(ctx, name, objective)
    if summary is not None:
        return {n: z.detach().cpu() for n, z in objective.full_z().items()}, summary
    batches = length_batches(pool, tokenizer, params.svf.batch_size, stage_seed(ctx.seed, name))
    seed = stage_seed(ctx.seed, f"{name}.steps")

    def fresh() -> tuple[torch.optim.Optimizer, int]:
        objective.load_state_dict({k_: torch.ones_like(v) for k_, v in objective.state_dict().items()})
        torch.manual_seed(seed)
        return torch.optim.AdamW(objective.parameters(), lr=params.svf.lr, weight_decay=0.0), 0

    optimizer, _ = fresh()
    start = _resume(ctx, name, objective, optimizer, params.svf.steps)
    if start < 0:
        optimizer, start = fresh()

    def on_step(step: int, values: dict) -> None:
        for key in ("loss", "grad_norm"):
            ctx.log_metric(f"svf.{skill}.{key}", values[key], step)
        for key in sorted(set(values) - {"loss", "lm_loss", "grad_norm", "lr"}):
            ctx.log_metric(key, values[key], step)
        progress(step + 1, params.svf.steps, values["loss"])

    def partial(step: int) -> None:  # what a run resumed at ``step`` starts from
        save_checkpoint(ctx.checkpoint_dir, f"{name}.partial",
                        {"z": objective.state_dict(), "optimizer": optimizer.state_dict(),
                         "step": step, "rng": torch.get_rng_state()})

    report = train_steps(objective, optimizer, lambda s: (batches[s % len(batches)],) * 2,
                         params.svf.steps, start_step=start, device=ctx.device,
                         should_stop=ctx.should_stop, on_step=on_step,
                         on_safe_point=periodic_saver(ctx, partial, params.svf.steps))
    if report.stopped:
        partial(report.completed)
        raise StopRequested(f"{ctx.phase} stopped training the {skill} expert at step "
                            f"{report.completed}/{params.svf.steps}")
    summary = {"loss": report.losses[-1]} if report.losses else {}
    save_checkpoint(ctx.checkpoint_dir, name, {"model": objective.state_dict(), "summary": summary})
    remove_checkpoint(ctx.checkpoint_dir, f"{name}.partial")
    return {n: z.detach().cpu() for n, z in objective.full_z().items()}, summary
