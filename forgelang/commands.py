"""Implementations of the ``forge`` subcommands (argparse namespaces in, exit codes out)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from forgelang.render import paint, render_plan, use_color


def resolve_workspace(arg: Path | None) -> Path:
    """``--workspace DIR``, else ``$FORGE_WORKSPACE``, else ``./.forge``."""
    return arg or Path(os.environ.get("FORGE_WORKSPACE") or ".forge")


def use_workspace_calibration(workspace: Path) -> None:
    """Plan with the profile ``forge calibrate --workspace`` kept in ``workspace`` (when
    there is one and ``$FORGE_CALIBRATION`` does not name another file): this process
    reads calibration from there (forgelang.devices.calibration_path)."""
    from forgelang.devices import CALIBRATION_FILE

    kept = Path(workspace) / CALIBRATION_FILE
    if "FORGE_CALIBRATION" not in os.environ and kept.is_file():
        os.environ["FORGE_CALIBRATION"] = str(kept)


def _print_diagnostics(diags, stream=sys.stderr) -> None:
    color = use_color(stream)
    for d in diags.sorted():
        text = d.render(diags.sources)
        head, _, rest = text.partition("\n")
        style = "warn" if d.severity == "warning" else "error"
        print(paint(head, style, color) + ("\n" + rest if rest else ""), file=stream)
        print(file=stream)
    n_err, n_warn = len(diags.errors), len(diags.items) - len(diags.errors)
    if n_err or n_warn:
        print(f"{n_err} error(s), {n_warn} warning(s)", file=stream)


def cmd_validate(args) -> int:
    from forgelang import api

    results, ok = [], True
    for path in args.files:
        _, diags = api.check(path, overrides=args.overrides, import_roots=args.import_root,
                             plan=True)
        ok = ok and not diags.errors
        results.append((path, diags))
    if args.json:
        out = {"valid": ok, "files": [
            {"file": str(p), "valid": not d.errors,
             "diagnostics": [x.to_json() for x in d.sorted()]} for p, d in results]}
        print(json.dumps(out, indent=2))
    else:
        for path, diags in results:
            if diags.items:
                _print_diagnostics(diags)
            if not diags.errors:
                print(f"{path}: valid")
    return 0 if ok else 1


def _plan(args):
    """(plan, diagnostics): from the plan cache when the recipe is unchanged."""
    from forgelang import plancache

    key = plancache.key(args.file, args.overrides, args.import_root) \
        if plancache.enabled() else None
    plan = plancache.load(key) if key else None
    if plan is not None:
        return plan, None
    from forgelang import api

    plan, diags, files = api.plan_with_files(args.file, args.overrides, args.import_root)
    if plan is not None and not diags.items and key:
        plancache.store(key, plan, files)
    return plan, diags


def cmd_plan(args) -> int:
    use_workspace_calibration(resolve_workspace(args.workspace))
    plan, diags = _plan(args)
    if plan is None:
        _print_diagnostics(diags)
        return 1
    if diags is not None and diags.items:
        _print_diagnostics(diags)
    plan = _with_workspace_state(plan, resolve_workspace(args.workspace))
    over = plan.over_budget()
    if args.out:
        args.out.write_text(json.dumps(plan.to_json(), indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(plan.to_json(), indent=2))
    else:
        print(render_plan(plan, use_color()))
        if args.out:
            print(f"\nSaved the plan to {args.out}. Run it exactly with: forge apply {args.out}")
    if over and args.strict:
        print("error[E110]: plan over budget (--strict): " + "; ".join(over), file=sys.stderr)
        return 1
    return 0


def _with_workspace_state(plan, workspace: Path):
    """Mark steps cached / re-run (with the reason) from the workspace registry, if any,
    and forecast each step from the workspace's measured history (forgelang.history)."""
    from forgelang.history import with_forecasts

    if not (workspace / "registry.db").is_file():
        return with_forecasts(plan, [])
    from runtime.estimate_history import measured_history
    from runtime.faults import FAULTS, describe_fault  # torch-free by contract
    from runtime.registry import ModelRegistry, RegistryError
    from runtime.registry_schema import SchemaError

    try:
        with ModelRegistry(workspace, create=False) as reg:
            done = reg.completed_cache_keys()
            last = reg.latest_steps_by_phase()
            state = reg.fingerprint()
            history = measured_history(reg)
    except (RegistryError, SchemaError, *FAULTS) as e:
        message = describe_fault(e, workspace) if isinstance(e, FAULTS) else str(e)
        print(f"warning: the plan ignores the workspace: {message}", file=sys.stderr)
        return with_forecasts(plan, [])
    plan = with_forecasts(plan, history)
    actions, reasons = {}, {}
    for s in plan.steps:
        if s.cache_key in done:
            actions[s.name] = "cached"
        elif s.name in last:
            actions[s.name], reasons[s.name] = "rerun", rerun_reason(s, last[s.name], reasons)
    return plan.with_actions(actions, state, reasons)


def rerun_reason(step, before: dict, upstream: dict[str, str]) -> str:
    """Why ``step`` re-runs, against the step that last completed under its name."""
    if before.get("kernel_version") != step.kernel_version:
        return "kernel changed"
    if before.get("params") != step.params:
        return "params changed"
    if before.get("seed") != step.seed:
        return "seed changed"
    if before.get("data") is not None and before.get("data") != step.data:
        return "data changed"  # the same file edited: its content's digest differs
    if any(i in upstream for i in step.inputs):
        return "inputs re-run"
    return "inputs changed"


def cmd_graph(args) -> int:
    from forgelang import api
    from forgelang.graph import to_dot, to_mermaid

    plan, diags = api.check(args.file, overrides=args.overrides, import_roots=args.import_root)
    if plan is None:
        _print_diagnostics(diags)
        return 1
    print(to_dot(plan) if args.format == "dot" else to_mermaid(plan), end="")
    return 0


def cmd_schema(args) -> int:
    from forgelang import jsonschema

    if args.out:
        for path in jsonschema.write(args.out):
            print(f"wrote {path}")
    else:
        print(json.dumps(jsonschema.schemas(), indent=2, sort_keys=True))
    return 0


def cmd_fmt(args) -> int:
    from forgelang.fmt import fmt_files

    return fmt_files(args.files, check=args.check, diff=args.diff)


def cmd_calibrate(args) -> int:
    from forgelang.devices import calibration_path
    from runtime.calibrate import measure, save

    target = calibration_path(args.workspace)
    print(f"measuring {args.device}; the profile will be saved to {target}", file=sys.stderr)
    profile = measure(args.device)
    path = save({profile.type if args.device == "cuda" else "cpu": profile}, path=target)
    base = (f", a {profile.base_memory_bytes / 2**20:.0f} MiB apply process before a phase"
            if profile.base_memory_bytes else "")
    print(f"measured {profile.peak_flops / 1e9:.1f} GFLOP/s fp32 matmul and "
          f"{profile.op_seconds * 1e6:.1f} us per tensor op on {args.device}{base}; "
          f"saved to {path}")
    return 0


def _runtime(name: str):
    from runtime import commands

    return getattr(commands, name)


def cmd_apply(args) -> int:
    use_workspace_calibration(resolve_workspace(args.workspace))
    return _runtime("apply")(args.target, resolve_workspace(args.workspace), args.overrides,
                             _names(args.only), args.from_, _names(args.force), args.json)


def _names(value: str | None) -> list[str]:
    """``a,b`` -> ["a", "b"] (phase lists given on the command line)."""
    return [n.strip() for n in (value or "").split(",") if n.strip()]


def cmd_runs(args) -> int:
    return _runtime("runs")(resolve_workspace(args.workspace), args.json)


def cmd_models(args) -> int:
    return _runtime("models")(resolve_workspace(args.workspace), args.json)


def cmd_show(args) -> int:
    return _runtime("show")(resolve_workspace(args.workspace), args.run, args.json)


def cmd_lineage(args) -> int:
    return _runtime("lineage")(resolve_workspace(args.workspace), args.model, args.json)


def cmd_report(args) -> int:
    from runtime.commands_report import report

    return report(resolve_workspace(args.workspace), args.run, args.out)


def cmd_diff(args) -> int:
    from runtime.commands_report import diff

    return diff(args.run_a, args.run_b, resolve_workspace(args.workspace),
                resolve_workspace(args.workspace_b) if args.workspace_b else None, args.json)


def _models_command(name: str):
    from runtime import model_commands

    return getattr(model_commands, name)


def cmd_generate(args) -> int:
    return _models_command("generate")(resolve_workspace(args.workspace), args.model,
                                       args.prompt, args.max_new_tokens, args.json, args.raw,
                                       args.device)


def cmd_export(args) -> int:
    return _models_command("export")(resolve_workspace(args.workspace), args.model,
                                     args.out_dir, args.json)
