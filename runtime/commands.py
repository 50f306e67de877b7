"""The CLI's commands as plain functions: ``apply``, ``runs``, ``show``, ``models``, ``lineage``.

Each returns the process exit code. ``forgelang.cli`` imports this module lazily, so
``forge plan`` never loads torch. Output is rich text, or JSON with ``json=True``.
"""

from __future__ import annotations

import json
import sys

from forgelang.data_label import same_data
from forgelang.humanize import human_bytes
from runtime.faults import FAULTS, describe_fault, workspace_problem
from runtime.registry import ModelRegistry, RegistryError, workspace_path
from runtime.registry_schema import SchemaError
from runtime.workspace_layout import WorkspaceError


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _fail(message: str, code: int = 2) -> int:
    # soft_wrap: one line whatever the width (rich would wrap at 80 columns off a terminal)
    _console(stderr=True).print(f"error: {message}", markup=False, soft_wrap=True)
    return code


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def apply(target, workspace=None, overrides=(), only=(), from_=None, force=(),
          json_events: bool = False) -> int:
    """``forge apply``: run a recipe or saved plan in the workspace.

    Returns:
        0 when every phase completed or was cached and no stop gate failed; 1 when a
        phase or a stop gate failed, or the disk or registry failed during the run; 2
        when the apply was refused before running (missing kernel, stale plan, workspace
        locked, bad input, a corrupt registry, an unwritable workspace); 130 when
        interrupted.
    """
    output = "json" if json_events else "console"
    ws = workspace_path(workspace)
    problem = workspace_problem(ws) or _saved_plan_problem(target, overrides)
    if problem:
        return _refuse(problem, json_events)
    from runtime.lock import LockHeldError
    from runtime.tracking import prestart

    prestart(target, overrides)  # W&B's child imports wandb while torch and the plan load
    from runtime.orchestrator import EXIT_REFUSED, PipelineOrchestrator  # loads torch
    result = None
    try:
        with PipelineOrchestrator(target, ws, overrides, only, from_, force,
                                  output=output) as pipeline:
            result = pipeline.run_full_pipeline()
    except (LockHeldError, RegistryError, SchemaError, WorkspaceError) as e:
        return _refuse(str(e), json_events)
    except FAULTS as e:
        if result is None:  # before the run started: nothing ran
            return _refuse(describe_fault(e, ws), json_events)
        # closing the workspace failed after the run ended: its outcome stands, said once
        return _fail(f"{describe_fault(e, ws)} (after the run ended {result.status})", 1)
    if result.status == "refused":
        return _refuse(result.message, json_events)
    if result.exit_code and not json_events:  # said here once; the console's last line
        # names the outcome only (runtime.events.ConsoleReporter._on_run_finished)
        _console(stderr=True).print(result.message, markup=False, soft_wrap=True)
    return result.exit_code if result.exit_code != EXIT_REFUSED else EXIT_REFUSED


def _saved_plan_problem(target, overrides) -> str | None:
    """Why a saved plan is refused, checked before torch loads (seconds), or None.

    Everything but the kinds: the orchestrator checks those against the kernels it has,
    and validates the whole plan again.
    """
    from runtime.plan_loading import PipelineError, load_plan

    if not str(target).endswith(".json"):
        return None
    try:
        load_plan(target, overrides, kinds=None)
    except PipelineError as e:
        return str(e)
    return None


def _refuse(message: str, json_events: bool) -> int:
    if json_events:
        sys.stdout.write(json.dumps({"event": "refused", "message": message}) + "\n")
        return 2
    return _fail(message)


def _open(workspace) -> ModelRegistry:
    ws = workspace_path(workspace)
    problem = workspace_problem(ws)
    if problem:
        raise RegistryError(problem)
    return ModelRegistry(ws, create=False)


def _fetch(workspace, query, as_json: bool) -> tuple[object, int | None]:
    """Run a registry query for a read command.

    Returns ``(data, None)`` when the caller should render ``data``, or ``(None, code)``
    when the command is done: the error was printed, or ``--json`` wrote the data.
    """
    try:
        with _open(workspace) as registry:
            data = query(registry)
    except (RegistryError, SchemaError) as e:
        return None, _fail(str(e))
    except FAULTS as e:
        return None, _fail(describe_fault(e, workspace_path(workspace)))
    if as_json:
        _print_json(data)
        return None, 0
    return data, None


def runs(workspace=None, json: bool = False) -> int:
    """``forge runs``: every run in the workspace, newest first."""
    rows, done = _fetch(workspace, lambda registry: registry.runs(), json)
    if done is not None:
        return done
    from rich import box
    from rich.table import Column, Table

    # an id is copied whole, a status is one word: never cut or wrapped; the recipe wraps
    # rather than lose text; a "current" column only while a run is running
    running = [r for r in rows if r["current_phase"] and r["status"] == "running"]
    names = ("recipe", "current") if running else ("recipe",)
    table = Table(Column("run", no_wrap=True, min_width=max([len(r["id"]) for r in rows] + [3])),
                  Column("status", no_wrap=True), Column("phases", no_wrap=True),
                  Column("started", no_wrap=True),
                  *(Column(name, overflow="fold") for name in names),
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for r in rows:
        current = f"{r['current_phase']} {r['progress']:.0f}%" if r in running else ""
        table.add_row(r["id"], r["status"], f"{r['done']}/{r['phases']}",
                      _when(r["created_at"], "%m-%d %H:%M"), r["recipe"],
                      *([current] if running else []))
    _console().print(table)
    return 0


def show(workspace=None, run: str | None = None, json: bool = False) -> int:
    """``forge show [RUN]``: phases with estimate vs measured, metrics, models and gates."""
    data, done = _fetch(workspace, lambda registry: registry.show(run), json)
    if done is not None:
        return done
    console = _console()
    console.print(f"run {data['run_id']} [{data['status']}] {data['recipe']}", markup=False)
    if data["message"]:
        console.print(data["message"], markup=False)
    console.print(_phase_table(data["phases"]))
    for phase in data["phases"]:
        _print_phase_details(console, phase)
    for g in data["gates"]:
        mark = "passed" if g["passed"] else f"FAILED ({g['action']})"
        console.print(f"gate after {g['phase']}: {g['expression']} -> {mark}: {g['message']}",
                      markup=False)
    return 0


def _phase_table(phases: list[dict]):
    from rich.table import Table

    table = Table("phase", "kind", "status", "memory est", "memory measured", "ratio",
                  "time est", "time measured", "ratio")
    for p in phases:
        est, got, ratio = p["estimate"], p["measured"], p["ratio"]
        table.add_row(p["name"], p["kind"], p["status"],
                      human_bytes(est.get("peak_memory_bytes")), human_bytes(got["peak_memory_bytes"]),
                      _ratio(ratio["peak_memory_bytes"]), _secs(est.get("seconds")),
                      _secs(got["seconds"]), _ratio(ratio["seconds"]))
    return table


def _print_phase_details(console, phase: dict) -> None:
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(phase["metrics"].items()))
    measured_on = f" (measured on {phase['data']})" if phase.get("data") else ""
    console.print(f"{phase['name']}{measured_on}: {metrics}", markup=False)
    for m in phase["models"]:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted(m["metrics"].items()))
        console.print(f"  model {m['id']} {m['role']} {m['sha256'][:12]} {m['params']:,} params"
                      f" ({m['size_category']}) {shown}", markup=False)


def models(workspace=None, json: bool = False) -> int:
    """``forge models``: every model in the workspace, newest first."""
    from runtime.model_lookup import artifact_path

    ws = workspace_path(workspace)

    def query(registry) -> list[dict]:
        return [{**m, "path": str(artifact_path(ws, m["sha256"]) or "")}
                for m in registry.models()]

    rows, done = _fetch(workspace, query, json)
    if done is not None:
        return done
    from rich.table import Column, Table

    # figures never wrap; names wrap rather than lose text. Run ids and paths are copied,
    # so they are printed whole, one line a model, below the table (80 columns hold it)
    table = Table(Column("id", no_wrap=True), Column("phase", overflow="fold"),
                  Column("role", overflow="fold"),
                  *(Column(name, no_wrap=True) for name in ("sha256", "params", "size",
                                                            "accuracy")))
    for m in rows:
        acc = m["metrics"].get("accuracy")
        table.add_row(str(m["id"]), m["phase"], m["role"], m["sha256"][:12], f"{m['params']:,}",
                      human_bytes(m["size_bytes"]), "" if acc is None else f"{acc:.4f}")
    console = _console()
    console.print(table)
    for m in rows:
        console.print(f"model {m['id']} (run {m['run_id']}): "
                      f"{m['path'] or '(no artifact store)'}", markup=False, soft_wrap=True)
    return 0


def lineage(workspace=None, model: str = "", json: bool = False) -> int:
    """``forge lineage MODEL``: the model (id or sha256 prefix) and its ancestors."""
    tree, done = _fetch(workspace, lambda registry: registry.lineage(model), json)
    if done is not None:
        return done
    from rich.text import Text
    from rich.tree import Tree

    root = Tree(Text(_node_label(tree)))  # Text: a name with [brackets] is not markup
    _add_parents(root, tree)
    _console().print(root)
    return 0


def _node_label(node: dict, child: dict | None = None) -> str:
    """One model of a lineage tree: its accuracy and the data it was measured on, flagged
    when that is not the data its child (the model above it) was measured on."""
    acc, data = node["metrics"].get("accuracy"), node.get("data")
    score = "" if acc is None else f" accuracy={acc:.4f}" + (f" on {data}" if data else "")
    if acc is not None and child is not None and same_data(data, child.get("data")) is False:
        score += (f" — (measured on other data: {data} vs {child['data']} of model "
                  f"{child['id']}; not comparable)")
    return (f"model {node['id']} {node['role']} ({node['phase']}/{node['kind']}) "
            f"{node['sha256'][:12]}{score}")


def _add_parents(branch, node: dict) -> None:
    for parent in node["parents"]:
        from rich.text import Text

        _add_parents(branch.add(Text(_node_label(parent, node))), parent)


def _secs(s) -> str:
    return "-" if s is None else f"{s:.2f} s"


def _ratio(r) -> str:
    return "-" if r is None else f"{r:.2f}x"


def _when(ts, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    import time

    return time.strftime(fmt, time.localtime(ts)) if ts else ""
