"""The curriculum phase's cost model: what the kernel runs, counted pass by pass.

- measurement: the input and the output on the held-out set (``pass_cost.measurement``);
- snapshot (start and end): the assessment (``assessment_questions`` at every level) and
  the other families, exact teacher-forced answers, one no-grad forward per batch;
- adaptive training: the planned optimiser steps on trimmed batches; a ternary input trains
  through the straight-through estimator (``ste_step_ops``) and Muon orthogonalises every
  hidden matrix's update each step (``muon_flops``);
- eudaimonia: adherence on the held-out rule prompts before and after, and one bake per
  rule on the model made float (its input quantisers kept): trajectories sampled from the
  prompted teacher in batches, where every distinct row length is its own forward
  (``runtime.baking.forward.causal_logits``), as are the LoRA training steps and the KL
  passes on query + trajectory;
- tools: held-out tool questions decoded with and without the calculator.

A ternary input (bitnet's output, stored below ``baking_cost.TERNARY_BITS`` a weight) pays
its input quantisers on every forward (``baking_cost.Form``).
"""

from __future__ import annotations

from forgelang.kinds import baking_cost as bc
from forgelang.kinds import costs, pass_cost
from forgelang.kinds import quietstar_cost as qc
from forgelang.kinds.ste_cost import muon_flops, ste_step_ops


def scored(work, cost, rows: int, width: float, batch: int, extra: float) -> None:
    """Exact teacher-forced answers of ``rows`` questions: one no-grad forward per batch."""
    for start in range(0, rows, batch):
        work.forward(cost, min(batch, rows - start), width, 0.0)
        work.ops += qc.forward_ops(cost, width, extra)


def grouped(work, cost, p, rows: float, length: float, extra: float, train: bool = False,
            train_extra: float = 0.0) -> None:
    """One pass of ``rows`` left-padded rows of mixed lengths: a forward (and backward) per
    distinct row length (``bc.distinct_lengths``), ``length`` tokens on average."""
    groups = max(1.0, min(rows, bc.distinct_lengths(p, max(1, round(rows)), cost.vocab_size)))
    if train:
        work.flops += rows * length * cost.train_flops_per_token(round(length))
        work.ops += groups * (cost.train_ops_per_step(round(length)) + train_extra)
    else:
        work.forward(cost, rows, length, 0.0)
        work.ops += groups * qc.forward_ops(cost, length, extra)


def rule_bake(work, cost, p, rule_tokens: float, query: float, heldout: int,
              form: bc.Form) -> None:
    """One rule bake (``runtime.baking.bake_prompt``) on queries of every family."""
    cfg = p.eudaimonia.bake
    t, teacher = cfg.trajectory_tokens, rule_tokens + query
    for count in (cfg.trajectories, heldout):
        for start in range(0, count, cfg.batch_size):
            rows = min(cfg.batch_size, count - start)
            for i in range(t + 1):  # t sampled tokens, then the teacher's distributions
                grouped(work, cost, p, rows, teacher + i, form.as_float)
                work.ops += qc.SAMPLE_STEP_OPS * (i < t)
    lora = bc.OPS_LORA * cost.n_matrices
    for _ in range(cfg.steps):
        grouped(work, cost, p, cfg.batch_size, query + t, 0.0, train=True,
                train_extra=form.training + lora)
    for _ in range(2):  # KL before and after, the adapters merged
        for start in range(0, heldout, cfg.batch_size):
            grouped(work, cost, p, min(cfg.batch_size, heldout - start), query + t,
                    form.as_float)


def tools(work, cost, p, extra: float) -> None:
    """Held-out tool questions decoded twice (with and without the calculator) as the
    baking phase's answers are (``baking_cost.answers``: one generate() call per distinct
    prompt length, ``ANSWER_STEPS`` decoding steps each; tiny: 76k ops counted, 87k
    planned, where decoding to ``max_new_tokens`` planned 404k)."""
    for _ in range(2):
        bc.answers(work, cost, p, "tool_use", p.eval.examples, extra)


def training_step(work, cost, rows: int, width: float, ternary: bool, ns_steps: int) -> None:
    """One adaptive optimiser step (forward, backward, MuGrokfast)."""
    step = cost.train_ops_per_step(round(width)) + (ste_step_ops(cost, True) if ternary else 0)
    work.train(cost, rows, width, step)
    work.flops += muon_flops(cost, ns_steps)


def rule_heldout_queries(bake) -> int:
    """Held-out queries a rule bake measures its KL on: one sampling batch, at most 8
    (``runtime.phases.curriculum.rules``)."""
    return min(8, bake.batch_size)


def query_tokens(p, vocab: int) -> float:
    """Mean tokens of a bake query: a suite example's prompt (every family)."""
    return costs.suite_batch_length(p.eval.levels, 1, p.seq_len, vocab) * (
        1 - pass_cost.ANSWER_SHARE)


def rules(work, cost, p, form: bc.Form) -> None:
    """Adherence before and after, and one bake per rule."""
    if not p.eudaimonia.enabled:
        return
    width = costs.suite_batch_length(p.eval.levels, min(p.eval.batch_size, p.eval.examples),
                                     p.seq_len, cost.vocab_size, {"rules": 1.0})
    for _ in range(2):
        scored(work, cost, p.eval.examples, width, p.eval.batch_size, form.as_float)
    query = query_tokens(p, cost.vocab_size)
    for rule in p.eudaimonia.rules:
        rule_bake(work, cost, p, bc.text_tokens(rule, cost.vocab_size), query,
                  rule_heldout_queries(p.eudaimonia.bake), form)
