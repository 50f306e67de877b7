"""Compiled recipe -> Plan: estimates per phase from its kind, chained cache keys."""

from __future__ import annotations

from pathlib import Path

from forgelang import devices
from forgelang.compiler import CompiledRecipe
from forgelang.data_files import check_data_file, data_path
from forgelang.data_label import SUITE_LABEL, content_sha256, file_label
from forgelang.diagnostics import Diagnostics
from forgelang.external import model_dir_spec
from forgelang.fingerprint import dir_fingerprint
from forgelang.kernel_code import kernel_version
from forgelang.kinds import KINDS
from forgelang.kinds.base import EstimateContext, ModelSpec
from forgelang.kinds.common import SUITE
from forgelang.plan import EXTERNAL_PREFIX, Plan, Step, cache_key, sha256_hex


def build_plan(recipe: CompiledRecipe, diags: Diagnostics) -> Plan | None:
    """The plan of a compiled recipe, or None after adding diagnostics."""
    h = recipe.header
    profile = devices.resolve(h.device, h.target)
    outputs: dict[str, tuple[ModelSpec, ...]] = {}
    keys: dict[str, str] = {}
    files: dict[str, str | None] = {}  # data value -> its digest (None: unreadable, reported)
    steps = []
    for spec in recipe.phases:
        kind = KINDS.get(spec.kind)
        inputs = _input_specs(spec, outputs, diags)
        data = _phase_data(spec, kind, recipe.base_dir, diags, files)
        if inputs is None or data is None:
            continue
        data_keys, data_label = data
        lo, hi = kind.inputs
        if not lo <= len(inputs) <= (hi if hi is not None else len(inputs)):
            want = f"{lo}" if lo == hi else f"{lo} or more" if hi is None else f"{lo}-{hi}"
            diags.add("E072", f"phase `{spec.name}` ({spec.kind}) takes {want} input models, "
                      f"gets {len(inputs)}", spec.span, "set `inputs = [...]` explicitly")
            continue
        est_ctx = EstimateContext(profile, inputs, spec.seed)
        est = kind.estimate(spec.params, est_ctx)
        for code, message in kind.plan_warnings(spec.params, est_ctx) if kind.plan_warnings else ():
            diags.add(code, f"phase `{spec.name}`: {message}", spec.span)
        outputs[spec.name] = est.outputs
        params = spec.params.model_dump(mode="json")
        in_keys = [keys.get(i) or _external_key(i) for i in spec.inputs] + data_keys
        version = kernel_version(spec.kind, kind.version)  # declared + code fingerprint
        keys[spec.name] = cache_key(spec.kind, version, params, spec.seed, in_keys)
        steps.append(Step(spec.name, spec.kind, tuple(spec.inputs), params, spec.seed,
                          version, keys[spec.name], est, data=data_label))
    if diags.errors:
        return None
    budget = {"memory_bytes": h.budget.memory, "seconds": h.budget.time}
    return Plan(h.name, recipe.source, h.seed, h.device, profile.to_json(), budget,
                h.tracking.model_dump(), h.executor.model_dump(), tuple(steps),
                tuple(recipe.gates))


def _input_specs(spec, outputs: dict, diags: Diagnostics) -> tuple[ModelSpec, ...] | None:
    found: list[ModelSpec] = []
    for name in spec.inputs:
        if name.startswith(EXTERNAL_PREFIX):
            directory = Path(name[len(EXTERNAL_PREFIX):])
            try:
                found.append(model_dir_spec(directory))
            except (OSError, ValueError) as e:
                diags.add("E070", f"input model directory cannot be read: {e}", spec.span,
                          "point `inputs` at a Hugging Face model directory with safetensors")
                return None
        elif name in outputs:
            found.extend(outputs[name])
        else:
            return None  # an upstream phase failed; its error is reported already
    return tuple(found)


def _phase_data(spec, kind, base_dir: Path, diags: Diagnostics,
                files: dict) -> tuple[list, str] | None:
    """Resolve a phase's ``data`` file (in place, to an absolute path) and identify it by
    the sha256 of its content, so an edited file re-runs the phases that read it. A file
    several phases read (the recipe's ``data``) is hashed, and reported, once (``files``).

    Returns (the extra cache-key entries, [] for the synthetic suite; the data's label,
    ``forgelang.data_label``), or None after an error.
    """
    value = getattr(spec.params, "data", SUITE)
    if value == SUITE:
        return [], SUITE_LABEL
    if not kind.jsonl_data:
        where = ("the recipe's `data` applies to every phase that does not set its own"
                 if spec.data_inherited else "it is set in this phase")
        diags.add("E074", f"phase `{spec.name}` ({spec.kind}) trains and measures on the "
                  f"synthetic task suite only, not on `{value}` ({where})",
                  spec.data_span or spec.span,
                  f"set `data = suite` in phase `{spec.name}`; `forge lineage` then shows "
                  "which models were measured on which data")
        return None
    path = data_path(value, base_dir)
    if str(path) not in files:
        files[str(path)] = _digest(spec, value, path, diags)
    digest = files[str(path)]
    if digest is None:
        return None
    spec.params = spec.params.model_copy(update={"data": str(path)})
    return [sha256_hex(f"data|sha256:{digest}")], file_label(path, digest)


def _digest(spec, value: str, path: Path, diags: Diagnostics) -> str | None:
    """The sha256 of a data file's content, or None after E073 saying why it may not be read."""
    try:
        check_data_file(path)
        return content_sha256(path)
    except OSError as e:
        whose = "the recipe's data file" if spec.data_inherited else \
            f"data file of phase `{spec.name}`"
        diags.add("E073", f"{whose} cannot be read: {e}", spec.data_span or spec.span,
                  f"`data = \"{value}\"` is read relative to the recipe's folder")
        return None


def _external_key(name: str) -> str:
    directory = Path(name[len(EXTERNAL_PREFIX):])
    return sha256_hex(name + "|" + dir_fingerprint(directory))
