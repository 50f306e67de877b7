"""``mode = merge``: one merge as the recipe writes it (Agent Forge as a merge tool).

The inputs may be Cognate models or any local Hugging Face causal LM directories
(``dir:`` inputs) of one supported architecture; ``runtime.merge.merge_directories``
streams them tensor by tensor. When the inputs use the task suite's tokenizer, the
result and the inputs are measured on the same held-out examples.
"""

from __future__ import annotations

from pathlib import Path

from forgelang.kinds.evomerge import EvoMergeParams
from runtime.data.splits import derive_seed
from runtime.kernels import ModelOutput, PhaseContext, PhaseResult


def merge_request(params: EvoMergeParams, n_inputs: int, seed: int):
    """The ``MergeRequest`` of ``params.merge``.

    Raises:
        ValueError: weights that do not match the inputs, or a technique that needs a
            search (FrankenMerge without slices, DFS).
    """
    from runtime.merge import MergeRequest

    spec = params.merge
    if spec.weights is not None and len(spec.weights) != n_inputs:
        raise ValueError(f"merge.weights has {len(spec.weights)} entries for {n_inputs} inputs")
    kind = spec.technique.type
    if kind == "frankenmerge" and not spec.technique.slices:
        raise ValueError("`mode = merge` with frankenmerge needs its `slices`; "
                         "without them use `mode = evolve` to search them")
    if kind == "dfs":
        raise ValueError("a DFS layer path is found by evolution; use `mode = evolve`")
    return MergeRequest.from_technique(spec.technique, weights=spec.weights, base=params.base,
                                       seed=derive_seed("evomerge", seed, "merge") % 2**31)


def _measure_dir(path: Path, params: EvoMergeParams, seed: int, device: str) -> dict | None:
    """accuracy/perplexity of the model in ``path`` when it uses the suite's tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import runtime.nn  # noqa: F401  (registers the Cognate model with the Auto classes)
    from runtime.phases.evomerge_eval import heldout_examples, is_suite_tokenizer, measure_candidate

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError, TypeError):
        return None  # a directory without a (loadable) tokenizer: nothing to measure with
    if not is_suite_tokenizer(tokenizer):
        return None
    model = AutoModelForCausalLM.from_pretrained(path).to(device).eval()
    heldout = heldout_examples(model, tokenizer, params.eval, seed)
    return measure_candidate(model, tokenizer, heldout, params.eval, device).metrics


def single_merge(ctx: PhaseContext, params: EvoMergeParams, inputs) -> PhaseResult:
    """Perform ``params.merge`` on the inputs; output role ``merged``."""
    from runtime.merge import merge_directories

    if not inputs:
        raise ValueError("evomerge needs at least one input model")
    request = merge_request(params, len(inputs), ctx.seed)
    ctx.progress(0.1, f"merging {len(inputs)} models with {request.technique}")
    out = merge_directories(request, [i.path for i in inputs], Path(ctx.work_dir) / "merged")
    ctx.progress(0.5, "measuring the merge")
    metrics = _measure_dir(out, params, ctx.seed, ctx.device) or {}
    phase: dict = {}
    input_metrics: dict[int, dict] = {}
    if metrics:  # the inputs on the same held-out examples: retention's baseline
        measured = [_measure_dir(i.path, params, ctx.seed, ctx.device) for i in inputs]
        phase["input_accuracy"] = max(m["accuracy"] for m in measured)
        phase["merged.accuracy"] = metrics["accuracy"]
        input_metrics = {i: {"merge_input.accuracy": m["accuracy"]}
                         for i, m in enumerate(measured)}
    ctx.progress(1.0, "done")
    details = {"technique": request.technique, "request": request.to_json(),
               "request_inputs": list(range(len(inputs)))}
    return PhaseResult(models=[ModelOutput(role="merged", path=out, metrics=metrics,
                                           details=details)],
                       metrics=phase, input_metrics=input_metrics)
