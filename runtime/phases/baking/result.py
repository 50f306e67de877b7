"""The end of the baking phase: score, measure and store the result, and summarise.

For a ternary input the float result is scored and measured first, then stored ternary
again (``runtime.bitnet.trainable.save_model`` with the input's form: its layers become
ternary in place), so ``requantization.*`` records what re-quantising costs: the float
result's ``float_accuracy``, ``float_tool_score`` and ``float_persona_score`` (compare the
output's ``accuracy``, ``a_cycle.final_score`` and ``b_cycle.final_score``) and ``kl``,
the stored model's KL to the float result on the held-out texts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from runtime.bitnet.trainable import save_model
from runtime.data.example import Example
from runtime.data.formatting import training_text
from runtime.kernels import ModelOutput, PhaseContext, PhaseResult
from runtime.personas import (
    CycleSchedule,
    group_scores,
    kl_to_reference,
    reference_distributions,
    tool_statistics,
)
from runtime.phases.baking.episodes import Episodes
from runtime.phases.baking.history import Iteration
from runtime.phases.toolkit.measure import before_after, measure

SHARES = {"measure": 0.1, "loop": 0.85}  # progress at the end of each part
PERSONAS_FILE = "personas.json"


def heldout_texts(heldout: Sequence[Example]) -> list[str]:
    """The held-out examples' full texts: what the KL to the input is measured on."""
    return [training_text(ex) for ex in heldout]


def final_scores(ctx: PhaseContext, params, model, tokenizer, episodes: Episodes) -> dict:
    """The model's tool score, its persona score with no persona prompt, its tool use."""
    (tool, records), (persona, _) = group_scores(
        model, tokenizer, [episodes.scored_tools, episodes.persona], params.eval, ctx.device)
    return {"a_cycle.final_score": tool, "b_cycle.final_score": persona,
            **{f"tool.{k}": v for k, v in tool_statistics(records).items()}}


def requantize(ctx: PhaseContext, params, model, tokenizer, form, episodes: Episodes,
               heldout: Sequence[Example], out_dir) -> dict:
    """Measure the float result, store it ternary (in place); ``requantization.*``."""
    scores = final_scores(ctx, params, model, tokenizer, episodes)
    measured = measure(model, tokenizer, heldout, params.eval, ctx.device)
    float_ref = reference_distributions(model, tokenizer, heldout_texts(heldout),
                                        batch_size=params.eval.batch_size, device=ctx.device)
    save_model(model, tokenizer, out_dir, form)
    return {"requantization.float_accuracy": measured.metrics["accuracy"],
            "requantization.float_tool_score": scores["a_cycle.final_score"],
            "requantization.float_persona_score": scores["b_cycle.final_score"],
            "requantization.kl": kl_to_reference(model, float_ref)}


def summary(params, history: list[Iteration]) -> dict[str, float]:
    """Phase metrics of the loop: iterations, last scores, plateau flags."""
    schedule = CycleSchedule(params.plateau.window, params.plateau.min_delta,
                             params.max_iterations)
    flat = schedule.plateaued([(it.cycle, it.score) for it in history])
    out = {"iterations": float(len(history)),
           "plateau.stopped": float(len(history) < params.max_iterations)}
    for cycle in ("a", "b"):
        runs = [it for it in history if it.cycle == cycle]
        out[f"plateau.{cycle}_cycle"] = float(flat[cycle])
        out[f"{cycle}_cycle.iterations"] = float(len(runs))
        if runs:
            out[f"{cycle}_cycle.score"] = runs[-1].score
    chosen = [it for it in history if it.cycle == "b"]
    if chosen:
        out["persona.score"] = chosen[-1].score
    return out


def write_personas_file(out_dir, history: list[Iteration]) -> None:
    """``personas.json``: every iteration's record; ``chosen`` is the last persona baked."""
    chosen = [it.persona for it in history if it.cycle == "b"]
    body = {"chosen": chosen[-1] if chosen else None,
            "iterations": [it.to_json() for it in history]}
    (out_dir / PERSONAS_FILE).write_text(json.dumps(body, indent=1, sort_keys=True) + "\n",
                                         encoding="utf-8")


def finish(ctx: PhaseContext, params, model, tokenizer, form, *, episodes: Episodes,
           heldout: Sequence[Example], before, reference,
           history: list[Iteration]) -> PhaseResult:
    """Store, score and measure the result (see the module docstring)."""
    out_dir = ctx.work_dir / "baking"
    ctx.progress(SHARES["loop"], "measuring the result")
    requantized = {}
    if form is not None:
        requantized = requantize(ctx, params, model, tokenizer, form, episodes, heldout, out_dir)
    else:
        save_model(model, tokenizer, out_dir, None)
    write_personas_file(out_dir, history)
    scores = final_scores(ctx, params, model, tokenizer, episodes)
    after = measure(model, tokenizer, heldout, params.eval, ctx.device)
    ctx.progress(1.0, "done")
    chosen = [it.persona for it in history if it.cycle == "b"]
    metrics = {**before_after([before.metrics], after.metrics, "baked"), **summary(params, history),
               **scores, **requantized, "kl": kl_to_reference(model, reference)}
    output = ModelOutput(role="baked", path=out_dir, metrics={**after.metrics, **scores},
                         details={"cycles": [it.cycle for it in history], "personas": chosen,
                                  "ternary": form is not None})
    return PhaseResult(models=[output], metrics=metrics)
