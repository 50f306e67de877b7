"""The ``bitnet`` phase kernel: BitNet b1.58 ternary weights, STE fine-tuning, packed.

Steps (seeded from the step's seed, deterministic on CPU):

1. load the input (Cognate or any transformers causal LM) and measure it on the held-out
   set (``input_accuracy``);
2. ternarise a copy without training and measure it (``ternary_only.accuracy``,
   ``ternary_only.retention``): what the STE steps are for;
3. attach BitLinear quantisers (``runtime.bitnet``: ternary weights, per-token
   ``activation_bits`` activations, straight-through) to every linear but the output
   head, and fine-tune ``steps`` steps with the phase's MuGrokfast on every suite family
   at the ``eval`` levels (checkpointed stage ``ste``, resumable);
4. store packed codes + scales (``runtime.formats.ternary``, ``base3``: 5 trits a byte,
   or ``2bit``: 4 codes a byte),
   reload-equivalent in memory, and measure it (``accuracy.*``; retention is after ÷
   before) and what was written (``bits_per_param``, ``sparsity``, ``compression_ratio``).
"""

from __future__ import annotations

import copy

from forgelang.kinds.bitnet import BitNetParams
from forgelang.kinds.common import SUITE
from runtime.bitnet.bitlinear import attach_bitlinear
from runtime.data import TASKS, TaskMix
from runtime.data.splits import derive_seed
from runtime.formats.ternary import convert, default_modules, save_ternary
from runtime.kernels import KERNELS, ModelOutput, PhaseContext, PhaseResult
from runtime.phases.bitnet.stored import packed_metrics, quantization_error
from runtime.phases.toolkit.batches import training_stream
from runtime.phases.toolkit.draws import eval_seq_len, heldout_examples
from runtime.phases.toolkit.inputs import load_model, load_tokenizer
from runtime.phases.toolkit.measure import before_after, measure
from runtime.phases.toolkit.stage import TrainingStage, train_stage

STE = "ste"
SHARES = {"measure": 0.15, "train": 0.85}


def check_supported(params: BitNetParams) -> None:
    """Refuse, before any work, what this kernel does not build yet."""
    if set(params.keep_full_precision) != {"embeddings", "head", "norms"}:
        raise NotImplementedError("bitnet keeps embeddings, the output head and norms in full "
                                  "precision (as the paper); ternary ones are not built yet")
    if params.data != SUITE:
        raise NotImplementedError(f"bitnet fine-tunes on the task suite only; JSONL data "
                                  f"({params.data}) is not supported yet")


@KERNELS.register("bitnet")
class BitNetKernel:
    """Phase 4: ternary weights with straight-through fine-tuning, packed on disk."""

    def run(self, ctx: PhaseContext, params, inputs) -> PhaseResult:
        """See the module docstring."""
        if not isinstance(params, BitNetParams):
            params = BitNetParams.model_validate(params)
        check_supported(params)
        if len(inputs) != 1:
            raise ValueError(f"bitnet takes one input model, got {len(inputs)}")
        source = inputs[0].path
        model, tokenizer = load_model(source, ctx.device), load_tokenizer(source)
        heldout = heldout_examples(tokenizer, params.eval, ctx.seed, eval_seq_len(model))
        ctx.progress(0.0, "measuring the input")
        before = measure(model, tokenizer, heldout, params.eval, ctx.device)
        modules = default_modules(model)
        plain = copy.deepcopy(model)
        convert(plain, modules, activation_bits=params.activation_bits)
        untrained = measure(plain, tokenizer, heldout, params.eval, ctx.device)
        del plain
        ctx.progress(SHARES["measure"], "straight-through fine-tuning")
        trained = fine_tune(ctx, params, model, tokenizer, modules)
        error = quantization_error(model, modules)
        out = save_ternary(model, tokenizer, ctx.work_dir / "bitnet", modules,
                           params.activation_bits, packing=params.packing)
        ctx.progress(SHARES["train"], "measuring the result")
        after = measure(model, tokenizer, heldout, params.eval, ctx.device)
        stored = {**packed_metrics(model, source, out), "quantization_error": error}
        ctx.progress(1.0, "done")
        phase = {**before_after([before.metrics], after.metrics, "ternary"), **stored, **trained,
                 "ternary_only.accuracy": untrained.metrics["accuracy"]}
        if before.metrics["accuracy"] > 0:  # undefined for an input that scored 0, as retention
            phase["ternary_only.retention"] = (untrained.metrics["accuracy"]
                                              / before.metrics["accuracy"])
        return PhaseResult(models=[ModelOutput(role="ternary", path=out,
                                               metrics={**after.metrics, **stored})],
                           metrics=phase)


def fine_tune(ctx: PhaseContext, params: BitNetParams, model, tokenizer, modules) -> dict:
    """The STE stage on BitLinear quantisers; leaves ``model`` with its trained latent
    weights (quantisers removed). Returns ``loss`` (the last step's) when it trained."""
    from runtime.optim import MuGrokfast

    handle = attach_bitlinear(model, modules, params.activation_bits)
    seed = derive_seed("bitnet", ctx.seed, STE) % 2**63
    total = params.steps / (SHARES["train"] - SHARES["measure"])  # progress: measure .. train
    stage = TrainingStage(STE, params.steps, seed, progress_offset=SHARES["measure"] * total,
                          progress_total=total)
    try:
        summary = train_stage(
            ctx, stage, model,
            make_batches=lambda: training_stream(TaskMix(dict.fromkeys(TASKS.names(), 1.0)),
                                                 params.steps, params.batch_size, params.seq_len,
                                                 tokenizer, seed, params.eval.levels),
            make_optimizer=lambda: MuGrokfast.from_config(model, params.optimizer.model_dump()))
    finally:
        handle.detach()
    model.eval()
    return {"loss": summary["train_loss"]} if "train_loss" in summary else {}
