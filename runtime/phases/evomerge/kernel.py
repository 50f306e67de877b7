"""The ``evomerge`` phase kernel: evolve merges of the input models, keep the champion.

``mode = evolve`` (default):

1. load the inputs (Cognate models or any supported HF causal LMs with the suite
   tokenizer) and draw ``eval.examples`` held-out examples that fit the models' context
   (capped at 256 tokens), seeded by the step's seed: of the task suite, or of the
   held-out lines of the phase's JSONL ``data`` file (its own or the recipe's);
2. search (``runtime.evolution``): generation 0 = every enabled technique at the recipe's
   settings plus random genomes, and the inputs themselves; each candidate is merged by
   ``runtime.merge`` and run on the held-out examples on the recipe's executor
   (``local`` or ``ray``); fitness = the recipe's expression over the measured metrics
   and ``diversity``; checkpoint after every generation;
3. output the champion (best of inputs and candidates) with its metrics, the inputs it
   was made from as parents, and its genome + merge request as lineage details; the
   inputs' fitness goes on the input models' registry rows.

``mode = merge``: one merge as written (``runtime.phases.evomerge.single``).
"""

from __future__ import annotations

from forgelang.kinds.evomerge import EvoMergeParams
from runtime.evolution import INPUT, EvolutionSearch, GenomeSpace, SearchResult, SearchSettings
from runtime.evolution.decode import to_request, used_inputs
from runtime.executors import make_executor
from runtime.kernels import KERNELS, ModelOutput, PhaseContext, PhaseResult, StopRequested
from runtime.merge import layer_count
from runtime.merge.compat import check_compatible_configs
from runtime.phases.evomerge.candidates import CandidateEvaluator, heldout_for, merge_seed
from runtime.phases.evomerge.fitness import fitness_function
from runtime.phases.evomerge.single import single_merge
from runtime.phases.toolkit.draws import is_suite_tokenizer
from runtime.phases.toolkit.inputs import LoadedInputs, load_inputs

SEARCH_SHARE = 0.95  # of the progress bar; the rest is building and handing over the champion


@KERNELS.register("evomerge")
class EvoMergeKernel:
    """Phase 2: evolutionary model merging (or one merge as written)."""

    def run(self, ctx: PhaseContext, params, inputs) -> PhaseResult:
        """Evolve (or perform) merges of ``inputs``; see the module docstring."""
        if not isinstance(params, EvoMergeParams):
            params = EvoMergeParams.model_validate(params)
        if params.mode == "merge":
            return single_merge(ctx, params, inputs)
        return evolve(ctx, params, inputs)


def build_evaluator(ctx: PhaseContext, params: EvoMergeParams,
                    loaded: LoadedInputs) -> CandidateEvaluator:
    """The candidate evaluator over the loaded inputs and the seeded held-out examples."""
    if not is_suite_tokenizer(loaded.tokenizer):
        raise ValueError("evolving merges measures candidates on the task suite, so the inputs "
                         "need the suite's tokenizer (Cognate models); for other models use "
                         "`mode = merge`")
    allow_mismatch = params.merge.allow_config_mismatch
    check_compatible_configs([m.config.to_dict() for m in loaded.models], allow_mismatch,
                             same_depth=False)  # before the search, not in every candidate
    heldout = heldout_for(loaded.models[0], loaded.tokenizer, params.eval, ctx.seed,
                          params.data)
    space = GenomeSpace(tuple(params.techniques), tuple(layer_count(m) for m in loaded.models))
    return CandidateEvaluator.from_models(
        loaded.models, tokenizer=loaded.tokenizer, heldout=heldout, eval_cfg=params.eval,
        device=ctx.device, space=space, base=params.base, seed=ctx.seed,
        allow_config_mismatch=allow_mismatch)


def evolve(ctx: PhaseContext, params: EvoMergeParams, inputs) -> PhaseResult:
    """Run (or resume) the search and hand over the champion."""
    loaded = load_inputs(inputs, ctx.device, "evomerge")
    evaluator = build_evaluator(ctx, params, loaded)
    settings = SearchSettings.from_params(params, ctx.seed)
    executor = make_executor(params.executor)

    def evaluate(genomes, generation):
        finished: list[int] = []  # results arrive in any order with Ray

        def report(i, result):
            finished.append(i)
            n, where = len(finished), f"generation {generation + 1}/{settings.generations}"
            done = (generation + n / len(genomes)) / settings.generations
            accuracy = getattr(result, "metrics", {}).get("accuracy")  # this candidate's
            ctx.progress(SEARCH_SHARE * done, f"{where}: candidate {n}/{len(genomes)}"
                         + (f" accuracy={accuracy:.4g}" if accuracy is not None else ""))
            if n < len(genomes) and ctx.should_stop():  # the search checks at the end
                raise StopRequested(f"evomerge stopped in {where} after candidate {n}/"
                                    f"{len(genomes)}; a resume repeats this generation")
        return executor.map(evaluator, genomes, on_result=report)

    try:
        search = EvolutionSearch(evaluator.space, settings, fitness_function(params.fitness),
                                 evaluate, ctx.checkpoint_dir,
                                 log=lambda name, value, g: ctx.log_metric(name, value, step=g),
                                 should_stop=ctx.should_stop)
        result = search.run()
    finally:
        executor.close()
    ctx.progress(SEARCH_SHARE, "building the champion")
    out = champion_output(evaluator, result, params, ctx.seed)
    ctx.progress(1.0, "done")
    return PhaseResult(models=[out], metrics=phase_metrics(result),
                       input_metrics={i: {"fitness": p.fitness,
                                          "diversity": p.metrics["diversity"]}
                                      for i, p in enumerate(result.parents)})


def lineage_details(space: GenomeSpace, result: SearchResult, base: str, seed: int) -> dict:
    """How the champion was made, as JSON: technique, genome, merge request, generation."""
    c = result.champion
    details = {"technique": c.genome.technique, "genome": c.genome.to_json(),
               "generation": c.generation, "fitness": c.fitness}
    if c.genome.technique == INPUT:
        details["input"] = c.genome.members[0]
        return details
    request, order = to_request(space, c.genome, base, merge_seed(seed, c.genome))
    details.update(request=request.to_json(), request_inputs=list(order))
    return details


def champion_output(evaluator: CandidateEvaluator, result: SearchResult,
                    params: EvoMergeParams, seed: int) -> ModelOutput:
    """The champion as a model output: rebuilt from its genome, metrics as measured."""
    c = result.champion
    model = evaluator.build(c.genome)
    return ModelOutput(role="champion", model=model, tokenizer=evaluator.tokenizer,
                       metrics=dict(c.metrics), parents=used_inputs(evaluator.space, c.genome, params.base),
                       details=lineage_details(evaluator.space, result, params.base, seed))


def phase_metrics(result: SearchResult) -> dict:
    """Champion vs parents on the same held-out set, and the search's cost."""
    best = max(result.parents, key=lambda p: p.fitness)
    out = {"parents.best_fitness": best.fitness,
           "parents.best_accuracy": max(p.metrics["accuracy"] for p in result.parents),
           "champion.fitness": result.champion.fitness,
           "champion.accuracy": result.champion.metrics["accuracy"],
           "champion.generation": float(result.champion.generation),
           "champion.is_input": float(result.champion.genome.technique == INPUT),
           "candidates": float(result.candidates),
           # retention's "before": the best input's accuracy on this phase's held-out set
           "input_accuracy": max(p.metrics["accuracy"] for p in result.parents)}
    for i, p in enumerate(result.parents):
        out[f"parents.{i}.fitness"] = p.fitness
        out[f"parents.{i}.accuracy"] = p.metrics["accuracy"]
    return out
