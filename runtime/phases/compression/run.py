"""One run of the compression phase: the input, the stages' state, the measurements."""

from __future__ import annotations

import copy
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from forgelang.kinds.compression import CompressionParams, Hyper, SeedLM
from runtime.artifacts import directory_bytes
from runtime.compression.stored import DECODERS, save_compressed
from runtime.data import TASKS
from runtime.data.formatting import training_text
from runtime.data.splits import derive_seed
from runtime.kernels import ForgeWarning, ModelOutput, PhaseContext, PhaseResult, step_message
from runtime.phases.compression import layers
from runtime.phases.compression.checkpoint import StageRecord, load_stage, save_stage
from runtime.phases.compression.stages import (
    Calibration,
    Outcome,
    bits_per_weight,
    predicted_bytes,
    run_hyper,
    run_seedlm,
    run_vptq,
)
from runtime.phases.compression.state import State
from runtime.phases.toolkit.draws import eval_seq_len, fitting_examples, heldout_examples
from runtime.phases.toolkit.inputs import load_model, load_tokenizer
from runtime.phases.toolkit.measure import Measured, before_after, measure

MEASURE_SHARE = 0.1  # of the progress bar: measuring the input
OUTPUT = "compression"  # the output directory's name in the work dir


@dataclass
class Run:
    """The phase's inputs and progress (see ``runtime.phases.compression.kernel``)."""

    ctx: PhaseContext
    params: CompressionParams
    tokenizer: object
    heldout: list
    before: Measured
    base: torch.nn.Module  # the input with dense float target layers: what is written from
    state: State
    activation_bits: int | None
    input_bytes: int
    fp32_bytes: int
    current: torch.nn.Module  # the model as the last stage left it (calibration runs on it)
    last_measured: dict = field(default_factory=dict)

    @classmethod
    def start(cls, ctx: PhaseContext, params: CompressionParams, source: Path) -> Run:
        """Load and measure the input; the targets' forms and dense weights."""
        model, tokenizer = load_model(source, ctx.device), load_tokenizer(source)
        heldout = heldout_examples(tokenizer, params.eval, ctx.seed, eval_seq_len(model))
        ctx.progress(0.0, "measuring the input")
        before = measure(model, tokenizer, heldout, params.eval, ctx.device)
        targets = layers.target_modules(model)
        if not targets:
            raise ValueError(f"{source}: the model has no linear layer to compress")
        base = layers.float_copy(model, targets)
        forms = {n: layers.input_form(model.get_submodule(n)) for n in targets}
        state = State(forms=forms,
                      weights={n: base.get_submodule(n).weight.detach().float().cpu().clone()
                               for n in targets},
                      dense_bytes={n: layers.dense_bytes(model.get_submodule(n))
                                   for n in targets if forms[n] is None},
                      accuracy=before.metrics["accuracy"])
        return cls(ctx, params, tokenizer, heldout, before, base, state,
                   layers.activation_bits(model), directory_bytes(source),
                   fp32_bytes(base, tokenizer, ctx.work_dir / f"{OUTPUT}.fp32"), model)

    def stage(self, index: int, key: str, stage) -> StageRecord:
        """Stage ``index``: from its checkpoint, or encoded, written, reloaded and measured."""
        record = load_stage(self.ctx.checkpoint_dir, index, key)
        fresh, started = record is None, time.perf_counter()
        if fresh:
            record = self.encode(index, key, stage)
        prev = self.state.accuracy
        if record.outcome is not None:
            self.apply(record.outcome)
            path = self.write(f"{OUTPUT}.stage{index}")
            self.current = load_model(path, self.ctx.device)
            if fresh:
                measured = measure(self.current, self.tokenizer, self.heldout, self.params.eval,
                                   self.ctx.device)
                record.measured = dict(measured.metrics)
                record.metrics = self.stage_metrics(key, stage, record.outcome, path,
                                                    record.measured, prev)
                record.metrics[f"stage.{key}.seconds"] = time.perf_counter() - started
            self.state.accuracy = record.measured["accuracy"]
            self.last_measured = record.measured
        if fresh:
            save_stage(self.ctx.checkpoint_dir, index, key, record)
        if record.skipped:
            warnings.warn(f"compression: stage {key} skipped: {record.skipped}", ForgeWarning,
                          stacklevel=2)
        return record

    def progress_of(self, index: int, key: str):
        """Progress callback of stage ``index``: its share of the bar after the input's."""
        share = (1 - MEASURE_SHARE) / len(self.params.stages)
        start = MEASURE_SHARE + index * share
        return lambda done, total, error: self.ctx.progress(
            start + share * done / total,
            step_message(key, done, total, unit="layer", relative_error=error))

    def encode(self, index: int, key: str, stage) -> StageRecord:
        """The stage's codes, or a skipped record when it would not make the targets smaller."""
        now, would = self.state.stored_bytes(), predicted_bytes(stage, self.state)
        weights = self.state.weight_count()
        if would >= now:
            reason = (f"{stage.type} would store the {len(self.state.forms)} compressed layers "
                      f"in {would:,} bytes ({8 * would / weights:.2f} bits/weight), not less "
                      f"than the {now:,} bytes they take now ({8 * now / weights:.2f} "
                      "bits/weight)")
            return StageRecord(None, reason, {f"stage.{key}.skipped": 1.0})
        stop, progress = self.ctx.should_stop, self.progress_of(index, key)
        if isinstance(stage, SeedLM):
            return StageRecord(run_seedlm(stage, self.state, stop, progress))
        if isinstance(stage, Hyper):
            return StageRecord(run_hyper(stage, self.state, stop, progress))
        seed = derive_seed("compression", self.ctx.seed, key) % 2**31
        return StageRecord(run_vptq(stage, self.state, key, seed, self.calibration(stage),
                                    stop, progress))

    def calibration(self, stage) -> Calibration:
        """``calibration_samples`` seeded training-split suite sequences, on the current model."""
        seed = derive_seed("compression", self.ctx.seed, "calibration")
        examples = fitting_examples(TASKS.names(), stage.calibration_samples, seed, "train",
                                    self.tokenizer, eval_seq_len(self.current),
                                    self.params.eval.levels)
        sequences = [self.tokenizer(training_text(ex))["input_ids"] for ex in examples]
        return Calibration(self.current, sequences, self.ctx.device)

    def apply(self, outcome: Outcome) -> None:
        """Make the stage's codes the targets' forms, and their decoded weights current."""
        self.state.shared.update(outcome.shared)
        for name, code in outcome.codes.items():
            self.state.forms[name] = code
            self.state.weights[name] = DECODERS[code.method](code, self.state.shared)

    def write(self, name: str) -> Path:
        """The current state as a ``forge_compressed`` directory ``name`` in the work dir."""
        path = self.ctx.work_dir / name
        if path.exists():
            shutil.rmtree(path)
        return save_compressed(copy.deepcopy(self.base), self.tokenizer, path,
                               self.state.codes(), self.state.used_shared(), self.activation_bits)

    def stage_metrics(self, key: str, stage, outcome: Outcome, path: Path, measured: dict,
                      prev: float) -> dict:
        """What one applied stage stored and kept (see the kernel's docstring)."""
        disk = directory_bytes(path)
        metrics = {f"bits_per_weight.{key}": bits_per_weight(outcome.codes, outcome.shared),
                   f"stage.{key}.disk_bytes": float(disk),
                   f"compression_ratio.{key}": self.input_bytes / disk,
                   f"stage.{key}.accuracy": measured["accuracy"]}
        errors = [outcome.errors[n] for n in outcome.codes]
        if errors:
            metrics[f"reconstruction_error.{key}"] = sum(errors) / len(errors)
        if isinstance(stage, Hyper):
            metrics[f"stage.{key}.kept_layers"] = float(len(outcome.kept))
        if prev > 0:
            metrics[f"retention.{key}"] = measured["accuracy"] / prev
        if self.before.metrics["accuracy"] > 0:
            metrics[f"cumulative_retention.{key}"] = (measured["accuracy"]
                                                      / self.before.metrics["accuracy"])
        return metrics

    def finish(self, records: list[StageRecord], input_metrics: dict) -> PhaseResult:
        """Write the output, measure it if no stage did, and gather the metrics."""
        path = self.write(OUTPUT)
        for stale in self.ctx.work_dir.glob(f"{OUTPUT}.stage*"):
            shutil.rmtree(stale, ignore_errors=True)
        measured = self.last_measured or dict(measure(
            load_model(path, self.ctx.device), self.tokenizer, self.heldout, self.params.eval,
            self.ctx.device).metrics)
        out_bytes = directory_bytes(path)
        stored = {"bits_per_weight": 8 * self.state.stored_bytes() / self.state.weight_count(),
                  "compression_ratio": self.input_bytes / out_bytes,
                  "compression_ratio.fp32": self.fp32_bytes / out_bytes,
                  "input_disk_bytes": float(self.input_bytes)}
        if input_metrics.get("input_disk_bytes"):  # BitNet's input: the fp32 champion
            stored["compression_ratio.bitnet_input"] = input_metrics["input_disk_bytes"] / out_bytes
        phase = {**before_after([self.before.metrics], measured, "compressed"), **stored}
        for record in records:
            phase.update(record.metrics)
        keys = [r.skipped for r in records]
        details = {"stages": [{"skipped": reason or None} for reason in keys],
                   "layers": {n: c.method for n, c in self.state.codes().items()}}
        self.ctx.progress(1.0, "done")
        return PhaseResult(models=[ModelOutput(role="compressed", path=path,
                                               metrics={**measured, **stored}, details=details)],
                           metrics=phase)


def fp32_bytes(base: torch.nn.Module, tokenizer, path: Path) -> int:
    """Bytes on disk of the input written as a plain float32 model (then removed)."""
    if path.exists():
        shutil.rmtree(path)
    copy.deepcopy(base).float().save_pretrained(path)
    tokenizer.save_pretrained(path)
    try:
        return directory_bytes(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)
