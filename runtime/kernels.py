"""The phase-kernel contract: a ``Kernel`` protocol, what it is given and what it returns.

A kernel is any object with ``run(ctx, params, inputs) -> PhaseResult``; there is no
base class. Kernels register into ``KERNELS`` under their phase kind's name::

    @KERNELS.register("cognate")
    class CognateKernel:
        def run(self, ctx, params, inputs):
            ...
            return PhaseResult(models=[ModelOutput(role="reasoning", model=m, tokenizer=t,
                                                   metrics={"accuracy": 0.41})])

The orchestrator stores every output model in the artifact store, records it with its
metrics and parents in the registry, and computes retention from the ``accuracy`` score
(see ``runtime.orchestrator``).
"""

from __future__ import annotations

import importlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from forgelang.registry import Registry
from runtime.utils.env_seconds import env_seconds


class StopRequested(Exception):
    """Raised by a kernel that saw ``ctx.should_stop()`` and checkpointed; the run is
    marked interrupted and resumes from the checkpoint on the next apply."""


class ForgeWarning(UserWarning):
    """Something a user should know that did not stop the phase (a checkpoint set aside, a
    divergence rolled back). Raised with ``warnings.warn(message, ForgeWarning)`` inside a
    kernel, it becomes a ``warning`` event of the step: shown, and kept in the registry."""


CHECKPOINT_INTERVAL_S = 300.0  # a long stage saves its state at least this often (5 minutes)
CHECKPOINT_INTERVAL_ENV = "FORGE_CHECKPOINT_INTERVAL"  # seconds; 0 = after every step


def checkpoint_interval() -> float:
    """Seconds between a long stage's periodic checkpoints: ``$FORGE_CHECKPOINT_INTERVAL``
    when it is a number >= 0, else ``CHECKPOINT_INTERVAL_S``.

    Five minutes bounds what a kill -9 or a power cut loses to five minutes of training,
    while writing a 25M-parameter model with its optimiser state (a few hundred MB) costs
    seconds, a few per cent of the interval at most.
    """
    return env_seconds(CHECKPOINT_INTERVAL_ENV, CHECKPOINT_INTERVAL_S, zero_allowed=True)


def step_message(stage: str, step: int, total: int, unit: str = "step",
                 **metrics: float) -> str:
    """The progress message of a step: ``"specialist1 step 240/300 loss=2.31"``.

    Every kernel reports steps this way (``ctx.progress(fraction, step_message(...))``), so
    the display shows the stage, how far it got and its current metric the same way.
    ``unit`` names what is counted when it is not an optimiser step (``"seedlm layer 3/12
    error=0.08"``).
    """
    shown = " ".join(f"{name}={value:.4g}" for name, value in metrics.items()
                     if value is not None and math.isfinite(value))
    return f"{stage} {unit} {step}/{total}" + (f" {shown}" if shown else "")


class MissingKernelError(LookupError):
    """A plan step's kind has no kernel in this build."""


@dataclass(frozen=True)
class InputModel:
    """A model given to a kernel: a verified directory to ``from_pretrained``."""

    path: Path
    role: str
    sha256: str | None = None  # None for an external ``dir:`` input
    model_id: int | None = None  # registry id; None for an external input
    metrics: dict = field(default_factory=dict)  # what was measured on it when it was made
    data: str | None = None  # the data those metrics were measured on (forgelang.data_label)


@dataclass
class ModelOutput:
    """One model a kernel produced: a directory, or a model (+ tokenizer) to save.

    Attributes:
        role: what it is, e.g. ``reasoning``, ``merged``.
        path: a directory with safetensors weights, config and tokenizer; or
        model / tokenizer: a Hugging Face model saved with ``save_pretrained``.
        metrics: measured on held-out data, e.g. ``accuracy`` (the task score).
        parents: indices into the kernel's inputs it was made from; None = all inputs.
        details: how it was made, as JSON (e.g. a merge's technique and settings); kept
            on the model's registry row for lineage (``forge show --json``).
    """

    role: str
    path: Path | None = None
    model: Any = None
    tokenizer: Any = None
    metrics: dict = field(default_factory=dict)
    parents: tuple[int, ...] | None = None
    details: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.path is None) == (self.model is None):
            raise ValueError("a ModelOutput needs exactly one of `path` or `model`")


@dataclass
class PhaseResult:
    """What a kernel returns: its models and phase-level metrics.

    ``input_metrics`` maps an input index to what the kernel measured on that input model
    (e.g. EvoMerge's ``fitness`` of each parent); the runtime records them on the input's
    registry row (inputs without a registry id, external ``dir:`` ones, are skipped).
    """

    models: list[ModelOutput] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    input_metrics: dict[int, dict[str, float]] = field(default_factory=dict)


@dataclass
class PhaseContext:
    """What the orchestrator gives a kernel besides params and inputs.

    Attributes:
        run_id, phase, kind: where we are.
        device: the torch device (as a string) to run on.
        seed: the step's seed; Python, NumPy and torch are already seeded with it.
        workspace: the workspace directory.
        run_dir: ``WORKSPACE/runs/<run>``, for logs.
        checkpoint_dir: survives crashes and is keyed by the step's cache key; a long
            phase saves its state here every N steps and resumes from it. Removed when
            the phase completes.
        checkpoint_interval_s: how often (seconds) a long stage saves its state there
            while it trains (``checkpoint_interval()``: 5 minutes unless
            ``$FORGE_CHECKPOINT_INTERVAL`` says otherwise), besides on a stop request.
        work_dir: scratch space on the artifact store's file system; output directories
            written here are moved, not copied, into the store.
    """

    run_id: str
    phase: str
    kind: str
    device: str
    seed: int
    workspace: Path
    run_dir: Path
    checkpoint_dir: Path
    work_dir: Path
    metric_sink: Callable[[str, float, int | None, int | None], None] = lambda *a: None
    progress_sink: Callable[[float, str], None] = lambda *a: None
    stop_event: threading.Event = field(default_factory=threading.Event)
    checkpoint_interval_s: float = field(default_factory=checkpoint_interval)

    def log_metric(self, name: str, value: float, step: int | None = None,
                   model: int | None = None) -> None:
        """Record a measured value (e.g. the training loss at ``step``).

        Args:
            name: metric name; namespaced by phase in W&B (``<phase>/<name>``).
            value: the measured number.
            step: training step or generation, for curves.
            model: index of the output model it belongs to, when known.
        """
        self.metric_sink(name, float(value), step, model)

    def progress(self, fraction: float, message: str = "") -> None:
        """Report how far the phase has got, in [0, 1], and what it is doing: the stage, its
        step and its current metric (``step_message``) while training."""
        self.progress_sink(min(1.0, max(0.0, float(fraction))), message)

    def should_stop(self) -> bool:
        """True once a stop was requested (Ctrl-C or SIGTERM): checkpoint, then raise
        StopRequested."""
        return self.stop_event.is_set()


@runtime_checkable
class Kernel(Protocol):
    """A phase kernel. ``params`` is the kind's pydantic Params instance (or the plain
    dict when the kind has no Params model); ``inputs`` the input models, in order."""

    def run(self, ctx: PhaseContext, params: Any, inputs: list[InputModel]) -> PhaseResult:
        ...


class KernelRegistry(Registry[Kernel]):
    """Kernels by phase kind: ``register(name)``, ``get(name)`` (did-you-mean), ``names()``.

    ``register(name, kernel)`` takes an object, or a class instantiated with no arguments
    (without ``kernel``, a decorator); an unknown kind raises ``MissingKernelError``.
    """

    def __init__(self) -> None:
        super().__init__("kernel for phase kind", error=MissingKernelError,
                         unknown="no {what} {name}", empty_hint="no kernels are registered yet",
                         sort=True)
        self._modules: dict[str, str] = {}  # kind -> module that registers it when imported

    def provide(self, name: str, module: str) -> None:
        """A kernel that ``module`` registers, imported on first use: an apply loads only
        the kernels its plan runs (each pulls in torch, transformers, its libraries)."""
        self._modules[name] = module

    def get(self, name: str) -> Kernel:
        module = self._modules.pop(name, None)
        if module is not None:
            importlib.import_module(module)
        return super().get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._modules or super().__contains__(name)

    def names(self) -> list[str]:
        return sorted(set(super().names()) | set(self._modules))

    def _prepare(self, name: str, obj: Any) -> Kernel:
        instance = obj() if isinstance(obj, type) else obj
        if not callable(getattr(instance, "run", None)):
            raise TypeError(f"kernel {name!r} has no run(ctx, params, inputs) method")
        return instance

    def missing(self, kinds: list[str]) -> list[str]:
        """The kinds among ``kinds`` that have no kernel, in order, without repeats."""
        return list(dict.fromkeys(k for k in kinds if k not in self))


KERNELS = KernelRegistry()  # the built-in kernels; runtime.phases modules register here
