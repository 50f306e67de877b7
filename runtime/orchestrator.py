"""The pipeline orchestrator: runs a compiled plan step by step in a workspace.

``with PipelineOrchestrator(config) as pipeline: pipeline.run_full_pipeline()``.
Steps whose cache key completed earlier (and whose artifacts still verify) are
reused; others run their kernel. Gates are checked after their phase. A crash at any
moment loses at most the phase in flight: the next apply resumes from there.
"""

from __future__ import annotations

import shlex
import signal
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from forgelang.data_label import changed_since_plan
from forgelang.plan import EXTERNAL_PREFIX, GateSpec, Plan, Step
from forgelang.plan_schema import is_cache_key
from runtime.artifacts import ArtifactError, ArtifactStore, check_no_pickle
from runtime.budget import TimeBudget, forecast_seconds, forecast_warning
from runtime.events import ConsoleReporter, EventBus, json_lines, registry_recorder
from runtime.faults import FAULTS, describe_fault, disk_fault
from runtime.gates import GateVerdict, evaluate_gate
from runtime.kernels import KERNELS, InputModel, KernelRegistry, StopRequested
from runtime.lock import WorkspaceLock
from runtime.phase_runner import StepRun, checkpoint_dir, execute, gate_envs, inside_workspace
from runtime.plan_loading import PipelineError, load_plan, select_steps, validated_params
from runtime.registry import ModelRegistry, workspace_path
from runtime.tracking import Tracker
from runtime.workspace_layout import check_layout

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_INTERRUPTED = 0, 1, 2, 130


class RunInterrupted(Exception):
    """Ctrl-C or a stop request ended the run; it resumes on the next apply."""


@dataclass
class PhaseOutcome:
    """What happened to one step in this run."""

    name: str
    status: str  # completed | cached | failed | interrupted
    phase_run_id: int | None = None
    models: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    error: str | None = None


@dataclass
class RunResult:
    """The outcome of an apply."""

    run_id: str | None
    status: str  # completed | failed | interrupted | refused
    exit_code: int
    message: str = ""
    phases: list[PhaseOutcome] = field(default_factory=list)
    gates: list[GateVerdict] = field(default_factory=list)


class PipelineOrchestrator:
    """Carry out a plan in a workspace (the design's Python API).

    Args:
        config: a ``Plan``, a plan dict, or a path to a plan ``.json`` / ``.forge`` recipe.
        workspace: the workspace (default ``$FORGE_WORKSPACE`` or ``./.forge``).
        overrides: ``k=v`` settings for a recipe (ignored for a saved plan).
        only, from_, force: which steps to run; see ``runtime.plan_loading.select_steps``.
        kernels: where kernels are looked up (default ``runtime.kernels.KERNELS``).
        output: ``"console"`` (rich), ``"json"`` (JSON lines on stdout) or ``"quiet"``.
    """

    def __init__(self, config, workspace=None, overrides=(), only=(), from_=None, force=(),
                 kernels: KernelRegistry | None = None, output: str = "console"):
        self.config, self.overrides = config, list(overrides or ())
        self.only, self.from_, self.force = tuple(only or ()), from_, tuple(force or ())
        self.workspace = workspace_path(workspace)
        self.kernels = kernels or _builtin_kernels()
        self.output = output
        self.stop_event = threading.Event()
        self.registry: ModelRegistry | None = None
        self._recorder = None  # the bus listener writing to the registry
        self._budget = TimeBudget(None)  # the recipe's budget.time, once the plan is loaded
        self._lock = WorkspaceLock(self.workspace)

    def __enter__(self) -> PipelineOrchestrator:
        check_layout(self.workspace)  # before the lock opens apply.lock
        self._lock.acquire()
        try:
            self.registry = ModelRegistry(self.workspace)
            self.store = ArtifactStore(self.workspace)
            self.store.clean_temp()  # we hold the lock: temp dirs are a dead run's leftovers
            self._close_dead_runs()
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.registry is not None:
            self.registry.close()
        self._lock.release()

    def _close_dead_runs(self) -> None:
        """Runs left 'running' by a killed apply are marked interrupted (we hold the lock)."""
        for run in self.registry.runs():
            if run["status"] == "running":
                self.registry.finish_session(run["id"], "interrupted",
                                             "the process died (killed or crashed)")
        self.registry.close_dead_phase_runs()

    # ------------------------------------------------------------ public API
    def run_full_pipeline(self) -> RunResult:
        """Run every selected step in plan order; returns the run's outcome."""
        if self.registry is None:
            raise RuntimeError("use PipelineOrchestrator as a context manager: "
                               "`with PipelineOrchestrator(config) as pipeline: ...`")
        started = time.monotonic()
        try:
            plan = load_plan(self.config, self.overrides, self.kernels.names())
            self._budget = TimeBudget(plan.budget.get("seconds"), started=started)
            steps, forced = select_steps(plan, self.only, self.from_, self.force)
            prepared = self._prepare(plan, steps)
        except PipelineError as e:
            return RunResult(None, "refused", EXIT_REFUSED, str(e))
        return self._run(plan, steps, forced, prepared)

    def run_single_phase(self, n: int | str) -> PhaseOutcome:
        """Run one step (1-based position or name), reusing the cache; its outcome.

        Raises:
            PipelineError: unknown step, or the run was refused.
        """
        plan = load_plan(self.config, self.overrides, self.kernels.names())
        name = plan.steps[n - 1].name if isinstance(n, int) else n
        self.only, self.from_ = (name,), None
        result = self.run_full_pipeline()
        if result.status == "refused":
            raise PipelineError(result.message)
        return next(p for p in result.phases if p.name == name)

    # ------------------------------------------------------------ preparation
    def _prepare(self, plan: Plan, steps: list[Step]) -> dict:
        """Everything checked before anything runs: kernels, device, params, staleness."""
        _check_plan(plan)
        missing = self.kernels.missing([s.kind for s in steps])
        if missing:
            have = ", ".join(self.kernels.names()) or "none yet"
            raise PipelineError(
                f"no kernel for phase kind(s) {', '.join(missing)}; nothing was run. "
                f"Kernels in this build: {have}. Use --only to run the phases that have one")
        if plan.workspace_state and plan.workspace_state != self.registry.fingerprint():
            raise PipelineError("the saved plan is stale: this workspace changed after it was "
                                "made; run `forge plan` again")
        from runtime.device import DeviceError, configure_threads, resolve_device

        try:
            device = resolve_device(plan.device)
        except DeviceError as e:
            raise PipelineError(str(e)) from None
        configure_threads(device)
        params = {s.name: validated_params(self.kernels.get(s.kind), s) for s in steps}
        self._check_inputs(plan, steps)
        return {"device": str(device), "params": params}

    def _check_inputs(self, plan: Plan, steps: list[Step]) -> None:
        """Every input is a phase run now or completed before, or a safe model directory;
        every data file is the one the plan named (its content's digest)."""
        names = {s.name for s in steps}
        _check_data(steps)
        for s in steps:
            for dep in s.inputs:
                if dep.startswith(EXTERNAL_PREFIX):
                    _check_external(dep)
                elif dep not in names and \
                        self.registry.completed_phase(plan.step(dep).cache_key) is None:
                    raise PipelineError(f"phase `{s.name}` needs the models of `{dep}`, which "
                                        "has not completed in this workspace; run it too")

    # ------------------------------------------------------------ the run
    def _run(self, plan: Plan, steps: list[Step], forced: set[str], prepared: dict) -> RunResult:
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        run_dir = self.workspace / "runs" / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        self.registry.create_session(run_id, plan.to_json(), plan.recipe)
        result = RunResult(run_id, "running", EXIT_OK)
        bus, tracker = EventBus(run_id), None
        try:
            bus = self._bus(run_id, run_dir)
            tracker = Tracker(plan.tracking, run_dir, lambda m: bus.emit("warning", message=m))
            tracker.start(run_id, plan.to_json())
            bus.emit("run_started", recipe=plan.recipe, steps=[s.name for s in steps],
                     device=prepared["device"])
            self._warn_forecast(plan, steps, forced, bus)
            self._run_interruptible(plan, steps, forced, prepared, bus, tracker, result)
            self.registry.finish_session(run_id, result.status, result.message or None)
            bus.emit("run_finished", status=result.status, message=result.message,
                     exit_code=result.exit_code)
        except FAULTS as e:  # the disk or the registry failed under the run
            result.status, result.exit_code = "failed", EXIT_FAILED
            result.message = describe_fault(e, self.workspace)
            self._abort(bus, result)
        finally:
            if tracker is not None:
                tracker.finish(result.exit_code)
        return result

    def _warn_forecast(self, plan: Plan, steps: list[Step], forced: set[str],
                       bus: EventBus) -> None:
        """A warning when the forecast of the phases to run passes ``budget.time``."""
        if not self._budget.seconds:
            return
        to_run = [s.name for s in steps if s.name in forced
                  or self.registry.completed_phase(s.cache_key) is None]
        said = forecast_warning(self._budget.seconds,
                                forecast_seconds(plan, to_run, self.registry), len(to_run))
        if said:
            bus.emit("warning", message=said)

    def _check_budget(self, bus: EventBus) -> None:
        """A warning, once, when the run has taken longer than ``budget.time``."""
        said = self._budget.passed()
        if said:
            bus.emit("warning", message=said)

    def _run_interruptible(self, plan, steps, forced, prepared, bus, tracker, result) -> None:
        """Run the steps; Ctrl-C or a stop request ends the run as interrupted."""
        previous = self._install_stop_signals()
        try:
            self._run_steps(plan, steps, forced, prepared, bus, tracker, result)
        except (KeyboardInterrupt, RunInterrupted):
            result.status, result.exit_code = "interrupted", EXIT_INTERRUPTED
            result.message = ("interrupted; the completed phases are kept and the phase in "
                              "flight resumes from its last checkpoint. Resume with the "
                              f"same command: {self.command()}")
        finally:
            self._restore_signals(previous)
        if result.status == "running":
            result.status = "completed"

    def _abort(self, bus: EventBus, result: RunResult) -> None:
        """After a fault: close the run and its running phases as failed while the registry
        still takes a write (else the next apply marks them interrupted); tell listeners."""
        try:
            self.registry.abort_run(result.run_id, "failed", result.message)
        except FAULTS:
            pass
        bus.listeners = [f for f in bus.listeners if f is not self._recorder]
        try:
            bus.emit("run_finished", status=result.status, message=result.message,
                     exit_code=result.exit_code)
        except FAULTS:
            pass

    def _bus(self, run_id: str, run_dir: Path) -> EventBus:
        bus = EventBus(run_id)
        self._recorder = registry_recorder(self.registry)
        bus.subscribe(self._recorder)
        log = open(run_dir / "events.jsonl", "a", buffering=1)  # noqa: SIM115 (closed by GC)
        bus.subscribe(json_lines(log))
        if self.output == "json":
            bus.subscribe(json_lines())
        elif self.output == "console":
            bus.subscribe(ConsoleReporter())
        return bus

    def _run_steps(self, plan, steps, forced, prepared, bus, tracker, result) -> None:
        outputs: dict[str, list[dict]] = {}
        selected = {s.name for s in steps}
        for position, step in enumerate(plan.steps):
            if step.name not in selected:
                continue
            if self.stop_event.is_set():  # a stop came while a kernel that ignores it ran
                raise RunInterrupted()
            self._check_budget(bus)
            source = None if step.name in forced else self._cached(step, bus)
            if source is not None:
                outcome = self._reuse(result.run_id, step, position, source, bus)
            else:
                try:
                    inputs = self._inputs(plan, step, outputs)
                except (PipelineError, ArtifactError) as e:
                    bus.emit("phase_failed", step.name, status="failed", error=str(e))
                    outcome = PhaseOutcome(step.name, "failed", error=str(e))
                else:
                    outcome = self._execute(result.run_id, step, position, inputs, prepared,
                                            bus, tracker)
            result.phases.append(outcome)
            if outcome.status != "completed" and outcome.status != "cached":
                result.status, result.exit_code = "failed", EXIT_FAILED
                result.message = f"phase `{step.name}` failed: {outcome.error}"
                return
            outputs[step.name] = outcome.models
            if not self._gates(plan.gates, step, outcome, bus, result):
                return

    def _cached(self, step: Step, bus: EventBus) -> dict | None:
        """The completed phase run to reuse, if its key completed and its models verify."""
        done = self.registry.completed_phase(step.cache_key)
        if done is None:
            return None
        try:
            for model in done["models"]:
                self.store.verify(model["sha256"])
        except ArtifactError as e:
            bus.emit("warning", step.name, message=f"{e}; re-running phase `{step.name}`")
            return None
        return done

    def _reuse(self, run_id, step, position, source, bus) -> PhaseOutcome:
        prid = self.registry.start_phase_run(run_id, step.to_json(), position, status="cached",
                                             source_id=source["id"])
        bus.emit("phase_cached", step.name, kind=step.kind, source_phase_run=source["id"],
                 cache_key=step.cache_key)
        return PhaseOutcome(step.name, "cached", prid, source["models"], source["metrics"])

    def _inputs(self, plan: Plan, step: Step, outputs: dict) -> list[InputModel]:
        """The verified input models of a step, in order."""
        inputs: list[InputModel] = []
        for dep in step.inputs:
            if dep.startswith(EXTERNAL_PREFIX):  # checked before the run (_check_external)
                inputs.append(InputModel(path=_external_path(dep), role="external"))
                continue
            models = outputs.get(dep)
            if models is None:
                models = self.registry.completed_phase(plan.step(dep).cache_key)["models"]
            for m in models:
                inputs.append(InputModel(path=self.store.load_model_dir(m["sha256"]),
                                         role=m["role"], sha256=m["sha256"], model_id=m["id"],
                                         metrics=m["metrics"], data=m.get("data")))
        return inputs

    def _execute(self, run_id, step, position, inputs, prepared, bus, tracker) -> PhaseOutcome:
        prid = self.registry.start_phase_run(run_id, step.to_json(), position)
        bus.emit("phase_started", step.name, kind=step.kind, cache_key=step.cache_key,
                 estimate=step.estimate.to_json())

        def metric(name, value, at_step):
            self.registry.log_metric(run_id, name, value, prid, at_step)
            bus.emit("metric", step.name, name=name, value=value, step=at_step)
            tracker.log(step.name, {name: value}, at_step)

        def progress(fraction, message):
            self.registry.update_session_progress(run_id, step.name, 100.0 * fraction)
            bus.emit("phase_progress", step.name, fraction=fraction, message=message)
            self._check_budget(bus)

        job = StepRun(run_id, prid, step, prepared["device"], self.workspace, self.store,
                      metric, progress, self.stop_event,
                      warning_sink=lambda message: bus.emit("warning", step.name, message=message))
        try:
            new, metrics, meter, input_metrics = execute(
                job, self.kernels.get(step.kind), prepared["params"][step.name], inputs)
        except (KeyboardInterrupt, StopRequested) as e:
            # a kernel that checkpointed says where: "cognate stopped in pretrain at step 17/40"
            said = "stopped by the user" + (f": {e}" if isinstance(e, StopRequested) and
                                            str(e) else "")
            self.registry.end_phase_run(prid, "interrupted", said)
            bus.emit("phase_failed", step.name, status="interrupted", error=said)
            raise RunInterrupted() from None
        except Exception as e:  # a kernel bug or bad input: record it, stop the run cleanly
            detail = disk_fault(e, self.workspace) or \
                "".join(traceback.format_exception_only(type(e), e)).strip()
            self.registry.end_phase_run(prid, "failed", traceback.format_exc())
            bus.emit("phase_failed", step.name, status="failed", error=detail)
            return PhaseOutcome(step.name, "failed", prid, error=detail)
        self.registry.complete_phase_run(prid, new, metrics, meter.peak_memory_bytes,
                                         meter.seconds, input_metrics)
        _remove_tree(checkpoint_dir(self.workspace, step.cache_key), self.workspace)
        models = self.registry.phase_models(prid)
        tracker.log(step.name, metrics)
        for m in models:
            tracker.log(step.name, {f"{m['role']}/{k}": v for k, v in m["metrics"].items()})
        bus.emit("phase_finished", step.name, seconds=meter.seconds,
                 peak_memory_bytes=meter.peak_memory_bytes, metrics=metrics,
                 models=[{"id": m["id"], "role": m["role"], "sha256": m["sha256"]}
                         for m in models])
        return PhaseOutcome(step.name, "completed", prid, models, metrics)

    def _gates(self, gates: tuple[GateSpec, ...], step: Step, outcome: PhaseOutcome,
               bus: EventBus, result: RunResult) -> bool:
        """Check the gates of ``step``; False when a stop gate failed (run ends)."""
        ok = True
        for gate in (g for g in gates if g.phase == step.name):
            verdict = _judge(gate, outcome)
            result.gates.append(verdict)
            self.registry.record_gate(result.run_id, outcome.phase_run_id, gate.phase,
                                      gate.expression, verdict.value, verdict.threshold,
                                      verdict.passed, verdict.action, verdict.message)
            bus.emit("gate_verdict", step.name, **{k: v for k, v in verdict.to_json().items()
                                                   if k != "phase"})
            if not verdict.passed and gate.on_fail == "stop" and ok:
                ok = False
                result.status, result.exit_code = "failed", EXIT_FAILED
                result.message = (f"gate `{gate.expression}` after phase `{step.name}` failed: "
                                  f"{verdict.message}")
        return ok

    def command(self) -> str:
        """The ``forge apply`` command line of this apply, shell-quoted (to resume it)."""
        argv = ["forge", "apply", _target(self.config), "--workspace", str(self.workspace)]
        for override in self.overrides:
            argv += ["--set", override]
        if self.only:
            argv += ["--only", ",".join(self.only)]
        if self.from_:
            argv += ["--from", self.from_]
        if self.force:
            argv += ["--force", ",".join(self.force)]
        if self.output == "json":
            argv.append("--json")
        return shlex.join(argv)

    def _install_stop_signals(self) -> dict | None:
        """The first Ctrl-C (SIGINT) or SIGTERM asks the kernel to checkpoint and stop (said
        on stderr); a second one interrupts at once. The handlers replaced, to restore."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def on_stop(signum, frame):
            if self.stop_event.is_set():
                raise KeyboardInterrupt
            self.stop_event.set()
            _say_stopping(signal.Signals(signum).name)

        return {sig: signal.signal(sig, on_stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    @staticmethod
    def _restore_signals(previous: dict | None) -> None:
        for sig, handler in (previous or {}).items():
            signal.signal(sig, handler)


def _check_data(steps: list[Step]) -> None:
    """Every data file is the one the plan named (its content's digest). A file several
    steps read (the recipe's ``data``) is hashed once."""
    checked: set[tuple[str, str]] = set()
    for s in steps:
        path = s.params.get("data")
        if not isinstance(path, str) or (s.data, path) in checked:
            continue
        checked.add((s.data, path))
        changed = changed_since_plan(s.data, path)
        if changed:
            raise PipelineError(f"phase `{s.name}`: {changed}; plan the recipe again")


def _say_stopping(name: str) -> None:
    """Tell the user, from the signal handler, what the first stop request does."""
    import sys

    how = "Ctrl-C" if name == "SIGINT" else name
    try:
        sys.stderr.write(f"stopping ({how}): the phase saves a checkpoint at its next safe "
                         f"point and the run ends; {how} again stops at once, losing the "
                         "phase's progress since its last checkpoint\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed: the stop still happens
        pass


def _judge(gate: GateSpec, outcome: PhaseOutcome) -> GateVerdict:
    """A gate holds when it holds for every output model's metrics; else the first failure."""
    verdicts = [(label, evaluate_gate(gate, env))
                for label, env in gate_envs(outcome.metrics, outcome.models)]
    label, verdict = next(((lb, v) for lb, v in verdicts if not v.passed), verdicts[0])
    if label and len(verdicts) > 1:
        verdict = GateVerdict(**{**verdict.__dict__, "message": f"{verdict.message} "
                                                                f"(model `{label}`)"})
    return verdict


def _check_plan(plan: Plan) -> None:
    """A plan with phases whose cache keys are sha256 hex (a Plan given in Python, too)."""
    if not plan.steps:
        raise PipelineError("the plan has no phases, so there is nothing to apply; add a "
                            "`phase` block to the recipe")
    for s in plan.steps:
        if not is_cache_key(s.cache_key):
            raise PipelineError(f"phase `{s.name}`: its cache key is not 64 lowercase hex "
                                "digits; plan the recipe again")


def _external_path(dep: str) -> Path:
    """The directory of a ``dir:PATH`` input.

    Raises:
        PipelineError: it is not a directory (any more).
    """
    path = Path(dep[len(EXTERNAL_PREFIX):]).expanduser()
    if not path.is_dir():
        raise PipelineError(f"input model directory {path} does not exist")
    return path


def _check_external(dep: str) -> None:
    """A ``dir:PATH`` input must be a directory without pickle files (it is only read)."""
    path = _external_path(dep)
    try:
        check_no_pickle(path)
    except ArtifactError as e:
        raise PipelineError(str(e)) from None


def _remove_tree(path: Path, workspace: Path) -> None:
    """Remove a directory of the workspace; anything else is refused (a bug, or a symlink
    planted in the workspace)."""
    import shutil

    if not inside_workspace(workspace, path):
        raise ValueError(f"refusing to remove {path}: it is not inside the workspace "
                         f"{workspace}")
    shutil.rmtree(path, ignore_errors=True)


def _target(config) -> str:
    return str(config) if isinstance(config, (str, Path)) else "PLAN.json"


def _builtin_kernels() -> KernelRegistry:
    """The global kernel registry, after the built-in phase modules registered into it."""
    import importlib

    try:
        importlib.import_module("runtime.phases")
    except ModuleNotFoundError as e:
        if e.name != "runtime.phases":
            raise
    return KERNELS


__all__ = ["PipelineOrchestrator", "PipelineError", "RunResult", "PhaseOutcome"]
