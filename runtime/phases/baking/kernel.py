"""The ``baking`` phase kernel: A-cycle tool-use and B-cycle persona prompt baking.

Steps (seeded from the step's seed, deterministic on CPU):

1. load the input (Cognate, any transformers causal LM, or a ``forge_ternary`` model),
   draw the episodes (``episodes``), measure the input on the held-out set and keep its
   next-token distributions on the held-out texts (the KL reference); a ternary input is
   then made float (``runtime.bitnet.trainable.to_float``: the same function) to bake;
2. the loop (``runtime.personas.cycles``): A, B, A, ... iterations (``cycles``), each
   scoring the model, baking at ``half_baking`` and measuring the KL to the input, each
   checkpointed when finished (``history``); a plateaued cycle drops out, and the loop
   ends after ``max_iterations`` or when both have plateaued;
3. the result (``result``): a ternary input's float result is scored and measured, then
   stored ternary again, and what that re-quantisation costs is recorded
   (``requantization.*``); the stored model is scored, measured, compared with the input
   (``kl``) and saved with ``personas.json`` (every iteration and the personas chosen).
"""

from __future__ import annotations

from forgelang.kinds.baking import BakingParams
from runtime.bitnet.trainable import to_float
from runtime.kernels import KERNELS, PhaseContext, PhaseResult, step_message
from runtime.personas import CycleSchedule, reference_distributions
from runtime.phases.baking.cycles import CYCLE_RUNS, checked_stop
from runtime.phases.baking.episodes import Episodes, draw_episodes
from runtime.phases.baking.history import Iteration, load_history, save_history
from runtime.phases.baking.result import SHARES, finish, heldout_texts
from runtime.phases.toolkit.draws import eval_seq_len, heldout_examples
from runtime.phases.toolkit.inputs import load_model, load_tokenizer
from runtime.phases.toolkit.measure import measure

CYCLE_NAMES = {"a": "A-cycle (tool use)", "b": "B-cycle (personas)"}


@KERNELS.register("baking")
class BakingKernel:
    """Phase 6: A/B-cycle tool and persona baking with plateau detection."""

    def run(self, ctx: PhaseContext, params, inputs) -> PhaseResult:
        """See the module docstring."""
        if not isinstance(params, BakingParams):
            params = BakingParams.model_validate(params)
        if len(inputs) != 1:
            raise ValueError(f"baking takes one input model, got {len(inputs)}")
        source = inputs[0].path
        model, tokenizer = load_model(source, ctx.device), load_tokenizer(source)
        seq_len = eval_seq_len(model)
        episodes = draw_episodes(params, tokenizer, ctx.seed, seq_len)
        heldout = heldout_examples(tokenizer, params.eval, ctx.seed, seq_len, params.data)
        ctx.progress(0.0, "measuring the input")
        before = measure(model, tokenizer, heldout, params.eval, ctx.device)
        reference = reference_distributions(model, tokenizer, heldout_texts(heldout),
                                            batch_size=params.eval.batch_size,
                                            device=ctx.device)
        form = to_float(model)  # None for a float input
        history = bake_loop(ctx, params, model, tokenizer, episodes, reference)
        return finish(ctx, params, model, tokenizer, form, episodes=episodes, heldout=heldout,
                      before=before, reference=reference, history=history)


def bake_loop(ctx: PhaseContext, params: BakingParams, model, tokenizer, episodes: Episodes,
              reference) -> list[Iteration]:
    """Run (or resume) the A/B loop; every finished iteration's record, in order."""
    schedule = CycleSchedule(params.plateau.window, params.plateau.min_delta,
                             params.max_iterations)
    history = load_history(ctx, model)
    span = SHARES["loop"] - SHARES["measure"]
    while (cycle := schedule.next_cycle([(it.cycle, it.score) for it in history])) is not None:
        number = len(history) + 1
        checked_stop(ctx, f"before iteration {number}")
        start = SHARES["measure"] + span * (number - 1) / params.max_iterations
        ctx.progress(start, f"iteration {number}/{params.max_iterations}: {CYCLE_NAMES[cycle]}")

        def on_step(step: int, number: int = number, start: float = start) -> None:
            ctx.progress(start + span * (step + 1) / (params.bake.steps + 1)
                         / params.max_iterations,
                         step_message(f"iteration {number} bake", step + 1, params.bake.steps))

        iteration = CYCLE_RUNS[cycle](ctx, params, model, tokenizer, episodes, reference,
                                      number, on_step)
        history.append(iteration)
        save_history(ctx, model, history)
        for name, value in iteration.metrics().items():
            ctx.log_metric(name, value, number)
    return history
