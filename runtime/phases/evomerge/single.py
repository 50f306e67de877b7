"""``mode = merge``: one merge as the recipe writes it (Agent Forge as a merge tool).

The inputs may be Cognate models or any local Hugging Face causal LM directories
(``dir:`` inputs) of one supported architecture; ``runtime.merge.merge_directories``
streams them tensor by tensor. When the inputs use the task suite's tokenizer, the
result and the inputs are measured on the same held-out examples.
"""

from __future__ import annotations

import json
from pathlib import Path

from forgelang.kinds.evomerge import EvoMergeParams
from runtime.data.splits import derive_seed
from runtime.kernels import ModelOutput, PhaseContext, PhaseResult
from runtime.phases.evomerge.candidates import heldout_for, measure_candidate
from runtime.phases.toolkit.draws import is_suite_tokenizer
from runtime.phases.toolkit.inputs import load_model, load_tokenizer
from runtime.phases.toolkit.measure import before_after


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
                                       seed=derive_seed("evomerge", seed, "merge") % 2**31,
                                       dtype=spec.dtype,
                                       allow_config_mismatch=spec.allow_config_mismatch)


def _surely_not_suite(path: Path) -> bool:
    """True when ``path``'s tokenizer.json plainly lacks a suite special token (or there is
    no tokenizer at all), read as JSON: then loading the tokenizer (and importing
    transformers, seconds) is skipped. Any doubt returns False and the tokenizer is loaded."""
    from runtime.data.tokens import SPECIAL_TOKENS
    from runtime.merge.checkpoint_io import TOKENIZER_FILES

    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        return True
    try:
        data = json.loads((path / "tokenizer.json").read_text(encoding="utf-8"))
        vocab = data["model"]["vocab"]
        tokens = set(vocab) if isinstance(vocab, dict) else {v[0] for v in vocab}
        tokens |= {t["content"] for t in data.get("added_tokens") or ()}
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return False
    return not all(token in tokens for token in SPECIAL_TOKENS)


def _measure_dir(path: Path, params: EvoMergeParams, seed: int, device: str) -> dict | None:
    """accuracy/perplexity of the model in ``path`` when it uses the suite's tokenizer."""
    if _surely_not_suite(Path(path)):
        return None
    tokenizer = load_tokenizer(path, required=False)
    if tokenizer is None or not is_suite_tokenizer(tokenizer):
        return None  # no (suite) tokenizer: nothing to measure with
    model = load_model(path, device)
    heldout = heldout_for(model, tokenizer, params.eval, seed, params.data)
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
        phase.update(before_after(measured, metrics, "merged"))
        input_metrics = {i: {"merge_input.accuracy": m["accuracy"]}
                         for i, m in enumerate(measured)}
    ctx.progress(1.0, "done")
    details = {"technique": request.technique, "request": request.to_json(),
               "request_inputs": list(range(len(inputs)))}
    return PhaseResult(models=[ModelOutput(role="merged", path=out, metrics=metrics,
                                           details=details)],
                       metrics=phase, input_metrics=input_metrics)
