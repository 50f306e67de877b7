"""Eudaimonia: the rules baked into the weights one after another (prompt baking).

Rule ``k`` is baked with ``runtime.baking.bake_prompt`` into the model that already
carries rules ``0..k-1`` (``Bake(u_k, ... Bake(u_0, theta))``, seed ``seed + 1000 k`` as
``bake_prompts``), each a finished checkpoint ``rule<k>`` so a stop or a crash resumes
after the last finished bake. Queries are prompts of training examples of every family;
the held-out queries that measure ``kl_before``/``kl_after`` are held-out prompts, one
sampling batch of them (``rule_heldout_queries``: a bake's held-out trajectories cost as
much as its training ones, and there are four bakes).
"""

from __future__ import annotations

from forgelang.kinds.curriculum import rule_heldout_queries
from runtime.baking import bake_prompt
from runtime.checkpoints import save_checkpoint
from runtime.curriculum.questions import stream_seed
from runtime.data import TASKS
from runtime.data.formatting import format_example
from runtime.kernels import PhaseContext, StopRequested
from runtime.phases.toolkit.draws import fitting_examples
from runtime.phases.toolkit.stage import load_finished


def bake_queries(params, tokenizer, seed: int) -> tuple[list[str], list[str]]:
    """``(training queries, held-out queries)`` of the rule bakes."""
    cfg, levels = params.eudaimonia.bake, params.eval.levels
    train = fitting_examples(TASKS.names(), cfg.trajectories, stream_seed(seed, "bake"), "train",
                             tokenizer, params.seq_len, levels)
    held = fitting_examples(TASKS.names(), rule_heldout_queries(cfg),
                            stream_seed(seed, "bake-heldout"),
                            "heldout", tokenizer, params.seq_len, levels)
    queries = [format_example(ex)[0] for ex in train]
    held_queries = [q for q in dict.fromkeys(format_example(ex)[0] for ex in held)
                    if q not in queries]
    return queries, held_queries


def bake_rules(ctx: PhaseContext, params, model, tokenizer,
               progress: tuple[float, float]) -> dict[str, float]:
    """Bake every rule in order (or load the finished bakes); ``bake.rule<k>.*`` metrics.

    Raises:
        StopRequested: a stop was requested between two bakes (those done are saved).
    """
    rules = params.eudaimonia.rules
    queries, held = bake_queries(params, tokenizer, ctx.seed)
    seed = stream_seed(ctx.seed, "eudaimonia") % 2**62  # room for + 1000 k
    start, span = progress
    metrics: dict[str, float] = {}
    for k, rule in enumerate(rules):
        name = f"rule{k}"
        summary = load_finished(ctx, name, model)
        if summary is None:
            if ctx.should_stop():
                raise StopRequested(f"{ctx.phase} stopped before baking rule {k + 1}/{len(rules)}")
            ctx.progress(start + span * k / len(rules), f"baking rule {k + 1}/{len(rules)}")
            result = bake_prompt(model, tokenizer, rule, queries, params.eudaimonia.bake,
                                 device=ctx.device, seed=seed + 1000 * k, heldout_queries=held,
                                 progress=lambda step, v, n=name: ctx.log_metric(
                                     f"bake.{n}.kl", v["kl"], step))
            summary = result.metrics(f"bake.{name}")
            save_checkpoint(ctx.checkpoint_dir, name, {"model": model.state_dict(),
                                                       "summary": summary})
        metrics.update(summary)
    return metrics
