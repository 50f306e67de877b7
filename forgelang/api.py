"""The Python API of the language: compile, validate and plan recipes.

    >>> from forgelang.api import compile_plan
    >>> plan = compile_plan("recipes/tiny.forge", overrides=["cognate.steps=10"])

Errors raise ``DiagnosticError`` carrying every diagnostic and the sources to render them.
"""

from __future__ import annotations

from pathlib import Path

from forgelang.compiler import CompiledRecipe, compile_unit
from forgelang.diagnostics import Diagnostic, DiagnosticError, Diagnostics
from forgelang.loader import Loader
from forgelang.overrides import parse_overrides
from forgelang.plan import Plan
from forgelang.planner import build_plan


def _compile(diags: Diagnostics, path: str | Path | None, text: str | None,
             overrides: list[str], import_roots: list[Path],
             loader: Loader | None = None) -> CompiledRecipe | None:
    loader = loader or Loader(diags, [Path(p) for p in import_roots])
    if text is not None:
        unit = loader.load_text(text, str(path or "<string>"), Path.cwd())
    else:
        unit = loader.load_root(Path(path))
    parsed = parse_overrides(list(overrides), diags)
    if unit is None or diags.errors:
        return None
    return compile_unit(unit, parsed, diags)


def check(path: str | Path | None = None, *, text: str | None = None, overrides=(),
          import_roots=(), plan: bool = True) -> tuple[Plan | None, Diagnostics]:
    """Compile (and plan) without raising: the plan (or None) and every diagnostic."""
    diags = Diagnostics()
    recipe = _compile(diags, path, text, list(overrides), list(import_roots))
    result = build_plan(recipe, diags) if (recipe is not None and plan) else None
    return result, diags


def plan_with_files(path: str | Path, overrides=(), import_roots=()):
    """(plan or None, diagnostics, every file read) — for caching compiled plans."""
    diags = Diagnostics()
    loader = Loader(diags, [Path(p) for p in import_roots])
    recipe = _compile(diags, path, None, list(overrides), list(import_roots), loader)
    plan = build_plan(recipe, diags) if recipe is not None else None
    return plan, diags, loader.files()


def compile_recipe(path=None, *, text=None, overrides=(), import_roots=()) -> CompiledRecipe:
    """The compiled recipe; raises DiagnosticError listing every problem."""
    diags = Diagnostics()
    recipe = _compile(diags, path, text, list(overrides), list(import_roots))
    diags.raise_if_errors()
    return recipe


def compile_plan(path=None, *, text=None, overrides=(), import_roots=()) -> Plan:
    """The execution plan of a recipe; raises DiagnosticError listing every problem."""
    plan, diags = check(path, text=text, overrides=overrides, import_roots=import_roots)
    diags.raise_if_errors()
    return plan


def validate(path=None, *, text=None, overrides=(), import_roots=()) -> list[Diagnostic]:
    """Every diagnostic (errors and warnings) of a recipe; empty when it is clean."""
    return check(path, text=text, overrides=overrides, import_roots=import_roots)[1].sorted()


__all__ = ["check", "compile_plan", "compile_recipe", "validate", "DiagnosticError"]
