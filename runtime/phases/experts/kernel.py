"""The ``experts`` phase kernel: self-analysis, Transformer² SVF experts, NSGA-II mixes.

Steps (seeded from the step's seed, deterministic on CPU):

1. load the input (Cognate, a Llama-style ``dir:`` model, or ``forge_ternary``, which is
   made float: ``runtime.bitnet.trainable.to_float``) and measure it on the held-out set;
2. self-analysis: each skill's accuracy on ``samples_per_skill`` held-out questions; the
   weakest ``max_experts`` skills become the experts' domains (``skill.*``);
3. decompose every target matrix once (W = U diag(sigma) V^T) and train one z vector per
   matrix per domain with REINFORCE + KL (``runtime.svf``; checkpoints ``expert<k>``);
4. measure each expert against the base on every skill (``expert.*``) and the prompt
   classifier (the model picks a prompt's skill; ``classification.accuracy``);
5. CEM over the experts' mixing weights on ``mixing.examples`` questions (``mixing.*``),
   then NSGA-II (pymoo) over mixes with the recipe's objectives, on the recipe's executor;
   the Pareto front (``pareto.*``) and the chosen point with its rule (``nsga2.chosen.*``);
6. merge the chosen mix into the weights, measure it per skill (``chosen.*``) and on the
   held-out set, and save: the model (ternary again for a ternary input), the experts
   beside it (``experts/``, ``runtime.svf.store``; per-prompt selection with
   ``runtime.svf.ExpertRouter``) and ``pareto_front.json``.

The searches score with teacher-forced greedy exact match (``runtime.svf.scoring``); the
phase's ``accuracy`` before and after is real greedy generation.
"""

from __future__ import annotations

from forgelang.kinds.common import SUITE
from forgelang.kinds.experts import ExpertsParams
from runtime.kernels import KERNELS, ModelOutput, PhaseContext, PhaseResult
from runtime.phases.experts.steps import (
    Run,
    adapt,
    analyse,
    measure_experts,
    save_output,
    train_all,
)
from runtime.phases.toolkit.draws import eval_seq_len, heldout_examples, is_suite_tokenizer
from runtime.phases.toolkit.inputs import load_model, load_tokenizer
from runtime.phases.toolkit.measure import before_after, measure


def check_supported(params: ExpertsParams) -> None:
    """Refuse, before any work, what this kernel does not build yet."""
    if params.data != SUITE:
        raise NotImplementedError(f"experts trains and measures on the task suite only; JSONL "
                                  f"data ({params.data}) is not supported yet")


@KERNELS.register("experts")
class ExpertsKernel:
    """Phase 7: self-guided SVF experts and an NSGA-II search of their mixes."""

    def run(self, ctx: PhaseContext, params, inputs) -> PhaseResult:
        """See the module docstring."""
        from runtime.bitnet.trainable import to_float

        if not isinstance(params, ExpertsParams):
            params = ExpertsParams.model_validate(params)
        check_supported(params)
        if len(inputs) != 1:
            raise ValueError(f"experts takes one input model, got {len(inputs)}")
        model, tokenizer = load_model(inputs[0].path, ctx.device), load_tokenizer(inputs[0].path)
        if not is_suite_tokenizer(tokenizer):
            raise ValueError("experts measures skills on the task suite: the input needs the "
                             "suite's tokenizer")
        run = Run(ctx, params, model, tokenizer, to_float(model), eval_seq_len(model))
        heldout = heldout_examples(tokenizer, params.eval, ctx.seed, run.seq_len)
        ctx.progress(0.0, "measuring the input")
        before = measure(model, tokenizer, heldout, params.eval, ctx.device)
        metrics = analyse(run)
        metrics.update(train_all(run))
        metrics.update(measure_experts(run))
        metrics.update(adapt(run))
        out, after, saved = save_output(run, heldout)
        metrics.update(saved)
        ctx.progress(1.0, "done")
        phase = {**before_after([before.metrics], after.metrics, "chosen"), **metrics}
        return PhaseResult(models=[ModelOutput(role="experts", path=out,
                                               metrics={**after.metrics, **saved},
                                               details=run.details())],
                           metrics=phase)
