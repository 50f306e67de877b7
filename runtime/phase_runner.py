"""Running one plan step: context, seeding, measuring, storing outputs, retention.

Retention (DESIGN.md): task score after a phase ÷ task score before it, on the same
held-out set, never across two data sets: ``runtime.retention``.
"""

from __future__ import annotations

import shutil
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from forgelang.plan_schema import is_cache_key
from runtime.artifacts import ArtifactStore, directory_bytes, safetensors_params
from runtime.device import seed_everything
from runtime.kernels import ForgeWarning, InputModel, ModelOutput, PhaseContext, PhaseResult
from runtime.measure import PhaseMeter
from runtime.registry import NewModel
from runtime.retention import add_retention

PROGRESS_INTERVAL_S = 0.5  # the registry hears progress at most this often


@dataclass
class StepRun:
    """Everything one step execution needs from the orchestrator."""

    run_id: str
    phase_run_id: int
    step: object  # forgelang.plan.Step
    device: str
    workspace: Path
    store: ArtifactStore
    metric_sink: Callable[[str, float, int | None], None]
    progress_sink: Callable[[float, str], None]
    stop_event: threading.Event
    series: dict[int, list] = field(default_factory=dict)  # per output model index
    warning_sink: Callable[[str], None] = lambda message: None


@contextmanager
def kernel_warnings(job: StepRun):
    """A ``ForgeWarning`` during the kernel (a checkpoint set aside, a divergence rolled
    back) becomes a ``warning`` event of the step, shown and recorded like the runtime's
    own; other warnings print as Python prints them."""
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, ForgeWarning):
            job.warning_sink(str(message))
        else:
            default(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def checkpoint_dir(workspace: Path, cache_key: str) -> Path:
    """Where a step keeps its in-phase checkpoints: keyed by what determines its result.

    Raises:
        ValueError: ``cache_key`` is not 64 lowercase hex digits, or the directory would
            lie outside the workspace (a symlink in it): no other path is ever made.
    """
    if not is_cache_key(cache_key):
        raise ValueError(f"refusing a checkpoint directory for cache key {cache_key!r:.80}: "
                         "a cache key is 64 lowercase hex digits")
    path = Path(workspace) / "checkpoints" / cache_key
    if not inside_workspace(workspace, path):
        raise ValueError(f"refusing checkpoint directory {path}: it resolves outside the "
                         f"workspace {workspace}")
    return path


def inside_workspace(workspace: Path, path: Path) -> bool:
    """Whether ``path``, symlinks resolved, lies strictly inside ``workspace``."""
    root, target = Path(workspace).resolve(), Path(path).resolve()
    return target != root and target.is_relative_to(root)


InputMetric = tuple[int, str, float]  # (input model's registry id, name, value)


def _quiet_transformers_bars() -> None:
    """Turn transformers' progress bars off without importing it.

    Importing transformers costs seconds (and, through ``runtime.transformers_hook``,
    registers the Cognate model): a phase that never loads a model (a directory merge)
    must not pay for it. transformers reads huggingface_hub's switch when it is imported;
    when it already is, its own switch is flipped too.
    """
    import os
    import sys

    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    if "huggingface_hub" in sys.modules:  # it read the variable already
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers.utils.logging" in sys.modules:
        sys.modules["transformers.utils.logging"].disable_progress_bar()


def execute(job: StepRun, kernel, params,
            inputs: list[InputModel]) -> tuple[list, dict, PhaseMeter, list[InputMetric]]:
    """Run the kernel, store its models.

    Returns:
        (new models, phase metrics, meter, what the kernel measured on its input models).
        The caller records them in the registry in one transaction
        (``complete_phase_run``); nothing here is visible there before.
    """
    _quiet_transformers_bars()  # per-load/save bars would drown forge's own progress
    step = job.step
    work = job.store.temp_dir()
    ckpt = checkpoint_dir(job.workspace, step.cache_key)
    ckpt.mkdir(parents=True, exist_ok=True)
    ctx = PhaseContext(run_id=job.run_id, phase=step.name, kind=step.kind, device=job.device,
                       seed=step.seed, workspace=job.workspace,
                       run_dir=job.workspace / "runs" / job.run_id, checkpoint_dir=ckpt,
                       work_dir=work, metric_sink=_model_sink(job),
                       progress_sink=_throttled(job.progress_sink), stop_event=job.stop_event)
    try:
        seed_everything(step.seed)
        with PhaseMeter(job.device) as meter, kernel_warnings(job):
            result = kernel.run(ctx, params, inputs)
            if not isinstance(result, PhaseResult):
                raise TypeError(f"the {step.kind} kernel returned {type(result).__name__}, "
                                "not a PhaseResult")
            models = [_store(job, out, i, inputs) for i, out in enumerate(result.models)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    metrics = dict(result.metrics)
    add_retention(models, inputs, metrics, getattr(step, "data", None))
    metrics.update(runtime_metrics(models, meter))
    return models, metrics, meter, input_metric_rows(inputs, result.input_metrics)


def _model_sink(job: StepRun) -> Callable:
    """Metrics of a named output model wait for its registry id; others go straight on."""
    def sink(name: str, value: float, step: int | None, model: int | None) -> None:
        if model is None:
            job.metric_sink(name, value, step)
        else:
            job.series.setdefault(int(model), []).append((name, value, step))

    return sink


def _throttled(progress: Callable[[float, str], None]) -> Callable[[float, str], None]:
    last = [0.0]

    def report(fraction: float, message: str) -> None:
        now = time.monotonic()
        if fraction >= 1.0 or now - last[0] >= PROGRESS_INTERVAL_S:
            last[0] = now
            progress(fraction, message)

    return report


def _store(job: StepRun, out: ModelOutput, index: int, inputs: list[InputModel]) -> NewModel:
    """Put one output model in the artifact store; what we know of it for the registry."""
    if out.path is not None:
        source = Path(out.path)
        inside = source.resolve().is_relative_to(job.store.root.resolve())
        sha = job.store.put_dir(source, move=inside)  # move only our own scratch dirs
    else:
        sha = job.store.save_model(out.model, out.tokenizer)
    path = job.store.path(sha)
    parent_idx = range(len(inputs)) if out.parents is None else out.parents
    parents = tuple(inputs[i].model_id for i in parent_idx if inputs[i].model_id is not None)
    return NewModel(sha256=sha, role=out.role, params=safetensors_params(path),
                    size_bytes=directory_bytes(path), parents=parents,
                    metrics={k: float(v) for k, v in out.metrics.items()},
                    series=tuple(job.series.get(index, ())), details=dict(out.details))


def input_metric_rows(inputs: list[InputModel],
                      input_metrics: dict[int, dict[str, float]]) -> list[InputMetric]:
    """The kernel's measurements of its inputs as rows for the inputs' registry entries.

    Inputs without a registry id (external ``dir:`` models) are skipped.
    """
    return [(inputs[i].model_id, name, float(value)) for i, values in input_metrics.items()
            if inputs[i].model_id is not None for name, value in values.items()]


def runtime_metrics(models: list[NewModel], meter: PhaseMeter) -> dict:
    """What the runtime itself measured, plus the worst retention over output models."""
    out = {"seconds": meter.seconds, "peak_memory_bytes": float(meter.peak_memory_bytes),
           "memory_above_start_bytes": float(meter.above_start_bytes),
           "disk_bytes": float(sum(m.size_bytes for m in models))}
    if models:
        out["params"] = float(max(m.params for m in models))
    for name in ("retention", "cumulative_retention"):
        values = [m.metrics[name] for m in models if name in m.metrics]
        if values:
            out[name] = min(values)
    return out


def gate_envs(phase_metrics: dict, models: list[dict]) -> list[tuple[str, dict]]:
    """The metric sets a gate is checked against: one per output model.

    Each is the phase's metrics overlaid with that model's own, so a gate on a
    per-model metric (``accuracy >= 0.5``, ``loss < 2``) must hold for every model,
    whichever direction its comparison points. A phase without models gives one set.
    """
    if not models:
        return [("", dict(phase_metrics))]
    return [(m["role"], {**phase_metrics, **m["metrics"]}) for m in models]
