"""Getting the plan an apply runs, and choosing its steps (--only / --from / --force)."""

from __future__ import annotations

import json
from pathlib import Path

from forgelang.diagnostics import did_you_mean
from forgelang.plan import EXTERNAL_PREFIX, Plan, Step
from forgelang.plan_schema import HINT, PlanSchemaError, field_problems, one_line, validate_plan


class PipelineError(RuntimeError):
    """The apply is refused before anything runs; the message says why and what to do."""


MAX_PLAN_BYTES = 16 * 2**20  # a saved plan is kilobytes; a bigger file is not one


def load_plan(config, overrides=(), kinds=()) -> Plan:
    """A ``Plan`` from a Plan, a plan dict, a saved plan ``.json`` or a ``.forge`` recipe.

    A plan dict or a saved plan is untrusted input: it is validated completely
    (``forgelang.plan_schema``) before ``Plan.from_json`` sees it. ``kinds`` are phase
    kinds known besides forgelang's (the kernels registered for this apply; None: kinds
    are not checked). A saved plan runs exactly as planned, so ``--set`` overrides are
    refused for it.
    """
    if isinstance(config, Plan):
        return config
    if isinstance(config, dict):
        return _from_json(config, "the plan", kinds)
    path = Path(config)
    if not path.exists():
        raise PipelineError(f"no such recipe or plan file: {path}")
    if path.suffix == ".json":
        if overrides:
            raise PipelineError("--set cannot change a saved plan (it runs exactly as "
                                "planned); apply the recipe instead, or plan it again")
        return _from_json(_read_json(path), str(path), kinds)
    return _compile(path, list(overrides))


def _read_json(path: Path):
    """The parsed JSON of a saved plan; any unreadable or malformed file is refused."""
    from forgelang.files import FileTooLarge, NotRegularFile, read_regular

    try:
        return json.loads(read_regular(path, MAX_PLAN_BYTES))
    except FileTooLarge:
        raise PipelineError(f"{path} is over {MAX_PLAN_BYTES:,} bytes, too big to be a saved "
                            f"plan; {HINT}") from None
    except NotRegularFile as e:
        raise PipelineError(f"cannot read {path}: {e}") from None
    except OSError as e:
        raise PipelineError(f"cannot read {path}: {e.strerror or e}") from None
    except (ValueError, RecursionError) as e:  # bad JSON or UTF-8, over-long numbers, nesting
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise PipelineError(f"{path} is not a plan JSON file: {detail}; {HINT}") from None


def _from_json(data, what: str, kinds) -> Plan:
    try:
        return Plan.from_json(validate_plan(data, what, kinds))
    except PlanSchemaError as e:
        raise PipelineError(str(e)) from None


def _compile(path: Path, overrides: list[str]) -> Plan:
    try:
        from forgelang.api import compile_plan
    except ImportError as e:
        raise PipelineError(f"this build cannot compile recipes yet ({e}); apply a saved "
                            "plan JSON instead") from None
    from forgelang.diagnostics import DiagnosticError

    try:
        return compile_plan(path, overrides=overrides, import_roots=[])
    except DiagnosticError as e:
        raise PipelineError(e.render()) from None


def _names(values) -> list[str]:
    """Flatten ``["a,b", "c"]`` into ``["a", "b", "c"]``."""
    out = []
    for value in values or ():
        out.extend(part.strip() for part in str(value).split(",") if part.strip())
    return out


def _check_known(plan: Plan, names: list[str], option: str) -> None:
    known = [s.name for s in plan.steps]
    for name in names:
        if name not in known:
            hint = did_you_mean(name, known) or ""
            raise PipelineError(f"{option}: the plan has no phase `{name}`. {hint}".strip())


def select_steps(plan: Plan, only=(), from_=None, force=()) -> tuple[list[Step], set[str]]:
    """The steps to consider, in order, and the names that must re-run despite the cache.

    - ``only``: just these phases (the cache still applies; their inputs must exist).
    - ``from_``: this phase and every later one; it and everything downstream of it
      re-run, earlier phases are not touched (their models must exist).
    - ``force``: re-run these phases and everything downstream of them.
    """
    only_names, force_names = _names(only), _names(force)
    from_names = _names([from_]) if from_ else []
    _check_known(plan, only_names, "--only")
    _check_known(plan, from_names, "--from")
    _check_known(plan, force_names, "--force")
    steps = [s for s in plan.steps if not only_names or s.name in only_names]
    if from_names:
        start = [s.name for s in plan.steps].index(from_names[0])
        steps = [s for s in steps if [t.name for t in plan.steps].index(s.name) >= start]
    chosen = {s.name for s in steps}
    for name in force_names:
        if name not in chosen:
            raise PipelineError(f"--force {name}: that phase is not selected to run")
    forced = set(force_names) | set(from_names)
    for s in plan.steps:  # plan order is topological: one pass closes downstream
        if any(dep in forced for dep in s.inputs if not dep.startswith(EXTERNAL_PREFIX)):
            forced.add(s.name)
    return steps, forced


def validated_params(kernel, step: Step):
    """The step's params as its kind's pydantic Params instance (or the plain dict).

    The Params model comes from the kernel's ``params_model`` attribute, else from the
    forgelang kind registry; kinds known to neither get the dict.
    """
    model = getattr(kernel, "params_model", None) or _kind_params(step.kind)
    if model is None:
        return dict(step.params)
    from pydantic import ValidationError

    try:
        return model.model_validate(step.params)
    except ValidationError as e:
        problems = field_problems(e, ("params",))
        raise PipelineError(one_line(f"phase `{step.name}` ({step.kind}): invalid params in "
                                     "the plan", problems, "plan the recipe again")) from None


def _kind_params(kind: str):
    try:
        from forgelang.kinds import KINDS
    except ImportError:
        return None
    return KINDS.get(kind).params if kind in KINDS else None
