"""The ``compression`` phase kernel: SeedLM, VPTQ and hyper-compression, stage by stage.

Steps (deterministic on CPU; seeds from the step's seed):

1. load the input (Cognate, any transformers causal LM, or BitNet's ``forge_ternary``
   model: its layers are compressed from gamma · codes) and measure it on the held-out
   set (``input_accuracy``); write its fp32 form once to measure its bytes
   (``compression_ratio.fp32``);
2. for each stage, in the recipe's order: if what it would store for the target layers
   (every linear but the head) is not smaller than what they take now, skip it
   (``stage.<s>.skipped``, a ForgeWarning, the reason in the model's details);
   otherwise encode every target's current dense weight, write the model in the
   ``forge_compressed`` form, reload it from disk and measure it (``retention.<s>``
   against the stage's input, ``cumulative_retention.<s>`` against the phase's input,
   ``bits_per_weight.<s>``, ``reconstruction_error.<s>``, ``compression_ratio.<s>``,
   ``stage.<s>.disk_bytes``, ``stage.<s>.seconds``). Each finished stage is
   checkpointed (``checkpoint``), so a re-run resumes after it with the same bytes;
3. the output is the last state written again (``forge_compressed``): it loads with
   ``AutoModelForCausalLM.from_pretrained`` after ``import runtime.formats``.

``<s>`` is the stage's type, or ``<type><index>`` when a type appears twice.
"""

from __future__ import annotations

from forgelang.kinds.common import SUITE
from forgelang.kinds.compression import CompressionParams, Hyper
from runtime.kernels import KERNELS, PhaseContext, PhaseResult
from runtime.phases.compression.run import Run
from runtime.phases.compression.stages import hyper_spec


def check_supported(params: CompressionParams) -> None:
    """Refuse, before any work, what this kernel does not build."""
    if params.data != SUITE:
        raise NotImplementedError(f"compression calibrates and measures on the task suite "
                                  f"only; JSONL data ({params.data}) is not supported yet")
    for stage in params.stages:
        if isinstance(stage, Hyper):
            hyper_spec(stage).side()  # ValueError: points need more than `bits` bits


def stage_keys(params: CompressionParams) -> list[str]:
    """Metric names of the stages: the type, or type + index when a type repeats."""
    types = [s.type for s in params.stages]
    return [t if types.count(t) == 1 else f"{t}{i}" for i, t in enumerate(types)]


@KERNELS.register("compression")
class CompressionKernel:
    """Phase 8: compression stages in order, each measured and checkpointed."""

    def run(self, ctx: PhaseContext, params, inputs) -> PhaseResult:
        """See the module docstring."""
        if not isinstance(params, CompressionParams):
            params = CompressionParams.model_validate(params)
        check_supported(params)
        if len(inputs) != 1:
            raise ValueError(f"compression takes one input model, got {len(inputs)}")
        run = Run.start(ctx, params, inputs[0].path)
        records = [run.stage(i, key, stage)
                   for i, (key, stage) in enumerate(zip(stage_keys(params), params.stages,
                                                        strict=True))]
        return run.finish(records, inputs[0].metrics)
