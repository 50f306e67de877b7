"""One iteration of each cycle: score the model, then bake at ``half_baking`` strength.

- A (tool use): greedy answers to the tool episodes with the calculator executed; the
  score is their accuracy; then ``a_cycle.prompt`` is baked on the tool queries.
- B (personas): the model writes ``personas`` persona prompts (``runtime.personas``);
  each is scored on the persona episodes with it in front (the persona family's scorer),
  beside the episodes with no persona; the best (the first of equals) is baked on the
  persona queries. The score is the best persona's.

Every iteration ends with the KL of the baked model to the phase's input. Seeds come
from the step's seed and the iteration's number, so a resumed iteration repeats exactly.
"""

from __future__ import annotations

from collections.abc import Callable

from runtime.baking import bake_prompt
from runtime.kernels import PhaseContext, StopRequested
from runtime.personas import (
    Reference,
    fit_persona,
    group_scores,
    kl_to_reference,
    tool_statistics,
    with_prompt,
    write_personas,
)
from runtime.phases.baking.episodes import Episodes, part_seed
from runtime.phases.baking.history import Iteration


def checked_stop(ctx: PhaseContext, where: str) -> None:
    """Raise StopRequested when a stop was asked for (the last finished iteration is
    checkpointed; the one under way is redone on resume)."""
    if ctx.should_stop():
        raise StopRequested(f"{ctx.phase} stopped {where}")


def bake(ctx: PhaseContext, params, model, tokenizer, prompt: str, queries: list[str],
         heldout: list[str], seed: int, on_step: Callable[[int], None]) -> dict[str, float]:
    """Bake ``prompt`` at ``half_baking`` strength with the phase's MuGrokfast; ``bake.*``."""
    config = params.bake.model_copy(update={"strength": params.half_baking})

    def progress(step: int, _values: dict) -> None:
        checked_stop(ctx, f"in a bake (step {step + 1})")
        on_step(step)

    result = bake_prompt(model, tokenizer, prompt, queries, config, device=ctx.device,
                         seed=seed, heldout_queries=heldout, progress=progress,
                         optimizer=params.optimizer.model_dump())
    return result.metrics("bake")


def a_cycle(ctx: PhaseContext, params, model, tokenizer, episodes: Episodes,
            reference: Reference, number: int, on_step: Callable[[int], None]) -> Iteration:
    """Score the tool episodes, bake the tool prompt, measure the KL to the input."""
    (score, records), = group_scores(model, tokenizer, [episodes.scored_tools], params.eval,
                                     ctx.device)
    checked_stop(ctx, f"in iteration {number}")
    baked = bake(ctx, params, model, tokenizer, params.a_cycle.prompt, episodes.tool_queries,
                 episodes.heldout_queries("a"), part_seed(ctx.seed, f"bake{number}"), on_step)
    return Iteration(number, "a", score, kl_to_reference(model, reference), baked,
                     tool=tool_statistics(records))


def b_cycle(ctx: PhaseContext, params, model, tokenizer, episodes: Episodes,
            reference: Reference, number: int, on_step: Callable[[int], None]) -> Iteration:
    """Write personas, score each (and none), bake the best, measure the KL to the input."""
    b = params.b_cycle
    personas = [fit_persona(tokenizer, text, b.persona_tokens) for text in
                write_personas(model, tokenizer, b.prompt, b.personas, b.persona_tokens,
                               seed=part_seed(ctx.seed, f"personas{number}"), device=ctx.device)]
    groups = [with_prompt(p, episodes.persona) for p in personas] + [episodes.persona]
    scored = group_scores(model, tokenizer, groups, params.eval, ctx.device)
    scores = [score for score, _ in scored[:-1]]
    best = max(range(len(personas)), key=lambda k: (scores[k], -k))
    checked_stop(ctx, f"in iteration {number}")
    baked = bake(ctx, params, model, tokenizer, personas[best], episodes.persona_queries,
                 episodes.heldout_queries("b"), part_seed(ctx.seed, f"bake{number}"), on_step)
    return Iteration(number, "b", scores[best], kl_to_reference(model, reference), baked,
                     persona=personas[best], candidates=list(zip(personas, scores, strict=True)),
                     baseline=scored[-1][0])


CYCLE_RUNS = {"a": a_cycle, "b": b_cycle}
