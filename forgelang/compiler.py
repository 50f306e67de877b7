"""Compile a loaded recipe: resolve names, validate every block, order the phases.

Every problem is collected into one Diagnostics bag, so a user sees all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from forgelang import LANGUAGE_VERSION, ast
from forgelang.dag import link_inputs, toposort
from forgelang.data_files import SUITE
from forgelang.diagnostics import Diagnostics, did_you_mean
from forgelang.exprcheck import check_phase_expressions, check_reserved
from forgelang.gates import compile_gates
from forgelang.kinds import KINDS
from forgelang.kinds.base import Params
from forgelang.loader import Unit
from forgelang.overrides import Override, set_path
from forgelang.plan import GateSpec
from forgelang.resolve import Resolver, deep_merge
from forgelang.schema import RecipeHeader
from forgelang.source import Span
from forgelang.validation import validate_model

RESERVED_PHASE_KEYS = ("inputs", "seed")


@dataclass
class PhaseSpec:
    """A validated phase: its kind, params model, inputs and seed."""

    name: str
    kind: str
    params: Params
    inputs: list[str]
    seed: int
    span: Span
    input_spans: list = field(default_factory=list)
    data_span: Span | None = None  # where `data = ...` was written, for file errors
    data_inherited: bool = False  # `data` came from the recipe block, not the phase


@dataclass
class CompiledRecipe:
    header: RecipeHeader
    phases: list[PhaseSpec]
    gates: list[GateSpec]
    source: str
    base_dir: Path


def compile_unit(unit: Unit, overrides: list[Override], diags: Diagnostics) -> CompiledRecipe | None:
    """Compile the root unit; returns None when any error was found (see ``diags``)."""
    stmts = unit.module.statements
    _check_version(stmts, unit, diags)
    check_reserved(unit, stmts, diags)
    recipe = _single_recipe(stmts, unit, diags)
    phases = _phase_decls(stmts, diags)
    lets = _override_lets(unit.lets, overrides, diags)
    res = Resolver(lets, unit.presets, diags)
    header = _header(recipe, res, overrides, diags) if recipe else None
    defaults = RecipeDefaults(header.seed if header else 0,
                              header.data if header else SUITE, res.spans.get(("recipe", "data")))
    specs = [s for s in (_phase(d, res, overrides, defaults, diags) for d in phases) if s]
    gates = compile_gates(stmts, {s.name: s.kind for s in specs}, res, diags)
    _warn_unused(stmts, set(res.used), diags)
    for name in unit.presets:  # check every preset, used or not
        res.preset_value(name, unit.presets[name].span)
    _check_overrides(overrides, lets, phases, diags)
    if len(specs) == len(phases):
        link_inputs(specs, unit.path.parent, diags)
        specs = toposort(specs, diags)
    if diags.errors or header is None:
        return None
    return CompiledRecipe(header, specs, gates, unit.module.path, unit.path.parent)


def _warn_unused(stmts, used: set[str], diags: Diagnostics) -> None:
    """W002 for variables and presets declared in this file and never referenced."""
    for s in stmts:
        if isinstance(s, ast.Let) and s.name not in used:
            diags.add("W002", f"variable `{s.name}` is never used", s.name_span,
                      "remove it, or refer to it by name")
        elif isinstance(s, ast.PresetDecl) and s.name not in used:
            diags.add("W002", f"preset `{s.name}` is never used", s.name_span,
                      "remove it, or use it: `optimizer = NAME` or `phase KIND extends NAME`")


def _check_version(stmts, unit: Unit, diags: Diagnostics) -> None:
    versions = [s for s in stmts if isinstance(s, ast.Version)]
    if not versions:
        span = stmts[0].span if stmts else Span(unit.module.path, 1, 1, 1, 2)
        diags.add("E010", "missing language version line", span,
                  f"start the file with `forge {LANGUAGE_VERSION}`")
    elif versions[0].number != LANGUAGE_VERSION or versions[0] is not stmts[0]:
        v = versions[0]
        msg = (f"language version {v.number} is not supported" if v.number != LANGUAGE_VERSION
               else "the version line must come first")
        diags.add("E010", msg, v.span, f"this Agent Forge reads `forge {LANGUAGE_VERSION}`")


def _single_recipe(stmts, unit: Unit, diags: Diagnostics) -> ast.RecipeDecl | None:
    recipes = [s for s in stmts if isinstance(s, ast.RecipeDecl)]
    if not recipes:
        span = Span(unit.module.path, 1, 1, 1, 2)
        diags.add("E011", "missing `recipe` block", span,
                  'add `recipe "my-recipe" { seed = 0  device = auto }`')
        return None
    for extra in recipes[1:]:
        diags.add("E030", "a file holds one `recipe` block", extra.span, "merge the two blocks")
    return recipes[0]


def _phase_decls(stmts, diags: Diagnostics) -> list[ast.PhaseDecl]:
    seen: dict[str, ast.PhaseDecl] = {}
    out = []
    for s in stmts:
        if not isinstance(s, ast.PhaseDecl):
            continue
        if s.name in seen:
            span = s.alias_span if s.alias else s.kind_span
            diags.add("E030", f"phase `{s.name}` is declared twice", span,
                      f"name the second one: `phase {s.kind} as {s.kind}_2 {{ ... }}`")
            continue
        seen[s.name] = s
        out.append(s)
    return out


def _override_lets(lets: dict, overrides: list[Override], diags: Diagnostics) -> dict:
    out = dict(lets)
    for o in overrides:
        if len(o.path) == 1 and o.path[0] in lets:
            old = lets[o.path[0]]
            out[o.path[0]] = ast.Let(old.name, o.expr, old.span, old.name_span)
    return out


def _header(recipe: ast.RecipeDecl, res: Resolver, overrides, diags) -> RecipeHeader | None:
    data = res.value(recipe.body, ("recipe",))
    for o in overrides:
        if o.path[0] == "recipe" and len(o.path) > 1:
            set_path(data, o.path[1:], res.value(o.expr, ("recipe",) + o.path[1:]))
    data = {"name": recipe.name, **data}
    if not res.within_budget(data, recipe.span):
        return None
    return validate_model(RecipeHeader, data, ("recipe",), res, recipe.span, diags)


@dataclass(frozen=True)
class RecipeDefaults:
    """What the recipe block gives every phase that does not set its own."""

    seed: int
    data: str  # `suite` or a .jsonl path as written
    data_span: Span | None


def _inherit_data(data: dict, params: type[Params], defaults: RecipeDefaults) -> bool:
    """Give a phase without its own ``data`` the recipe's (a kind without a ``data``
    parameter gets nothing). True when it was inherited."""
    if "data" in data or "data" not in params.model_fields or defaults.data == SUITE:
        return False
    data["data"] = defaults.data
    return True


def _phase(decl: ast.PhaseDecl, res: Resolver, overrides, defaults: RecipeDefaults,
           diags) -> PhaseSpec | None:
    name = decl.name
    data = res.value(decl.body, (name,))
    if decl.extends:
        data = deep_merge(res.extends(decl.extends, decl.extends_span), data)
    for o in overrides:
        if o.path[0] == name and len(o.path) > 1:
            set_path(data, o.path[1:], res.value(o.expr, (name,) + o.path[1:]))
    if not res.within_budget(data, decl.span):
        return None
    inputs = data.pop("inputs", None)
    phase_seed = data.pop("seed", defaults.seed)
    if decl.kind not in KINDS:
        diags.add("E020", f"unknown phase kind `{decl.kind}`", decl.kind_span,
                  did_you_mean(decl.kind, KINDS.names()))
        return None
    inherited = _inherit_data(data, KINDS.get(decl.kind).params, defaults)
    params = validate_model(KINDS.get(decl.kind).params, data, (name,), res,
                            decl.kind_span, diags)
    if not isinstance(phase_seed, int) or isinstance(phase_seed, bool) or phase_seed < 0:
        diags.add("E022", "`seed` must be a non-negative integer",
                  res.spans.get((name, "seed")), None)
        return None
    if params is None:
        return None
    listed = inputs if isinstance(inputs, list) else None if inputs is None else [inputs]
    spans = [res.spans.get((name, "inputs", i)) or res.spans.get((name, "inputs"))
             for i in range(len(listed or []))]
    check_phase_expressions(decl, KINDS.get(decl.kind), res, diags)
    data_span = defaults.data_span if inherited else res.spans.get((name, "data"))
    return PhaseSpec(name, decl.kind, params, listed, phase_seed, decl.span, spans,
                     data_span, inherited)


def _check_overrides(overrides, lets, phases, diags) -> None:
    names = {p.name for p in phases}
    for o in overrides:
        head = o.path[0]
        if (len(o.path) == 1 and head in lets) or (len(o.path) > 1 and head in names | {"recipe"}):
            continue
        choices = sorted(names | {"recipe"} | set(lets))
        diags.add("E100", f"override `{o.text}` names nothing in this recipe", None,
                  did_you_mean(head, choices) or "use PHASE.KEY=VALUE, recipe.KEY=VALUE or VAR=VALUE")
