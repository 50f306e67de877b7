"""The ``quietstar`` phase kernel: bake a reasoning prompt, then train thoughts.

Steps (seeded from the step's seed, deterministic on CPU):

1. load the input model (the Cognate model or any transformers causal LM); add the
   thought markers to its tokenizer when it lacks them; measure it on the held-out set;
2. bake ``bake.prompt`` into its weights (``runtime.baking``; checkpoint ``bake``);
3. train thoughts (``runtime.thoughts.objective``) for ``steps`` steps with a fresh
   mixing head, as a toolkit training stage (checkpoint ``thoughts``, resumable);
4. measure the result with thoughts off (``accuracy.*``), run the anti-theatre controls
   and the coherence scores (``runtime.phases.quietstar.checks``);
5. save the model directory with its mixing head (``runtime.thoughts.model``).
"""

from __future__ import annotations

import torch

from forgelang.kinds.quietstar import QuietStarParams
from runtime.baking import bake_prompt
from runtime.checkpoints import save_checkpoint
from runtime.data.splits import derive_seed
from runtime.kernels import KERNELS, ModelOutput, PhaseContext, PhaseResult, step_message
from runtime.phases.quietstar.checks import anti_theater, coherence
from runtime.phases.quietstar.data import bake_queries, thought_batches
from runtime.phases.toolkit.draws import eval_seq_len, heldout_examples
from runtime.phases.toolkit.inputs import load_model, load_tokenizer
from runtime.phases.toolkit.measure import before_after, measure
from runtime.phases.toolkit.stage import TrainingStage, load_finished, train_stage
from runtime.thoughts.head import MixingHead
from runtime.thoughts.model import ThoughtfulLM, has_thoughts, hidden_size, load_head, read_config
from runtime.thoughts.objective import QuietStarObjective, ThoughtSettings
from runtime.thoughts.tokens import add_thought_tokens, thought_tokens

BAKE, THOUGHTS = "bake", "thoughts"
SHARES = {"measure": 0.1, "bake": 0.3, "train": 0.8}  # progress at the end of each part


def phase_seed(seed: int, part: str) -> int:
    """A torch-sized seed per part of the phase."""
    return derive_seed("quietstar", seed, part) % 2**63


@KERNELS.register("quietstar")
class QuietStarKernel:
    """Phase 3: reasoning-prompt baking and Quiet-STaR thought training."""

    def run(self, ctx: PhaseContext, params, inputs) -> PhaseResult:
        """See the module docstring."""
        if not isinstance(params, QuietStarParams):
            params = QuietStarParams.model_validate(params)
        if len(inputs) != 1:
            raise ValueError(f"quietstar takes one input model, got {len(inputs)}")
        source = inputs[0].path
        model, tokenizer = load_model(source, ctx.device), load_tokenizer(source)
        add_thought_tokens(model, tokenizer)
        heldout = heldout_examples(tokenizer, params.eval, ctx.seed, eval_seq_len(model),
                                   params.data)
        ctx.progress(0.0, "measuring the input")
        before = measure(model, tokenizer, heldout, params.eval, ctx.device)
        ctx.progress(SHARES["measure"], "baking the reasoning prompt")
        baked = bake_stage(ctx, params, model, tokenizer, heldout)
        thinker, trained = train_thoughts(ctx, params, model, tokenizer, source)
        ctx.progress(SHARES["train"], "measuring the result")
        after = measure(model, tokenizer, heldout, params.eval, ctx.device)
        checks = {**anti_theater(ctx, model, thinker.head, thinker.tokens, tokenizer, params,
                                 eval_seq_len(model)),
                  **coherence(ctx, model, thinker.head, thinker.tokens, tokenizer, params, heldout)}
        out = ctx.work_dir / "quietstar"
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)
        thinker.save_thoughts(out)
        ctx.progress(1.0, "done")
        metrics = {**after.metrics, **checks}
        return PhaseResult(models=[ModelOutput(role="thinker", path=out, metrics=metrics,
                                               details={"thought_tokens": params.thought_tokens})],
                           metrics={**before_after([before.metrics], after.metrics, "thinker"),
                                    **baked, **checks, **trained_metrics(trained, params)})


def trained_metrics(summary: dict, params: QuietStarParams) -> dict:
    """``loss`` (the last training step's) and the thought shape."""
    out = {"thought.tokens": float(params.thought_tokens),
           "thought.per_position": float(params.thoughts_per_position)}
    if "train_loss" in summary:
        out["loss"] = summary["train_loss"]
    return out


def bake_stage(ctx: PhaseContext, params: QuietStarParams, model, tokenizer, heldout) -> dict:
    """Bake the reasoning prompt (or load the finished bake); its ``bake.*`` metrics."""
    summary = load_finished(ctx, BAKE, model)
    if summary is not None:
        return summary
    queries, held = bake_queries(params, tokenizer, ctx.seed, heldout)
    span = SHARES["bake"] - SHARES["measure"]

    def progress(step: int, values: dict) -> None:
        ctx.log_metric("bake.kl", values["kl"], step)
        ctx.progress(SHARES["measure"] + span * (step + 1) / max(1, params.bake.steps),
                     step_message("bake", step + 1, params.bake.steps, kl=values["kl"]))

    result = bake_prompt(model, tokenizer, params.bake.prompt, queries, params.bake,
                         device=ctx.device, seed=phase_seed(ctx.seed, BAKE),
                         heldout_queries=held, progress=progress)
    summary = result.metrics("bake")
    save_checkpoint(ctx.checkpoint_dir, BAKE, {"model": model.state_dict(), "summary": summary})
    return summary


def initial_head(source, model, params: QuietStarParams, seed: int) -> MixingHead:
    """The input's mixing head when it has one (thoughts trained before); else a new one."""
    if has_thoughts(source):
        return load_head(source, read_config(source), model)
    d_model = hidden_size(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(phase_seed(seed, "head"))
        return MixingHead(d_model, params.mixing_head_hidden)


def train_thoughts(ctx: PhaseContext, params: QuietStarParams, model, tokenizer,
                   source) -> tuple[ThoughtfulLM, dict]:
    """The thought-training stage: the trained model with its head, and the stage summary."""
    from runtime.optim import MuGrokfast

    tokens = thought_tokens(tokenizer, params.thought_tokens)
    head = initial_head(source, model, params, ctx.seed).to(ctx.device)
    settings = ThoughtSettings(params.thoughts_per_position, params.n_true, params.temperature,
                               params.policy_weight, params.thought_positions == "answers")
    objective = QuietStarObjective(model, head, tokens, settings, tokenizer.pad_token_id)
    total = params.steps / (SHARES["train"] - SHARES["bake"])  # progress: bake .. train share
    stage = TrainingStage(THOUGHTS, params.steps, phase_seed(ctx.seed, THOUGHTS),
                          progress_offset=SHARES["bake"] * total, progress_total=total)
    summary = train_stage(ctx, stage, objective,
                make_batches=lambda: thought_batches(params, tokenizer, stage.seed),
                make_optimizer=lambda: MuGrokfast.from_config(objective, params.optimizer.model_dump()))
    model.eval()
    head.eval()
    return ThoughtfulLM(model, head, tokens, params.temperature), summary
