"""``--set path=value`` overrides from the command line.

A path is ``NAME`` (a ``let`` variable), ``recipe.KEY[.KEY...]`` or
``PHASE.KEY[.KEY...]``; the value is any .forge expression (``10``, ``2e-4``,
``[linear, ties]``, ``"text"``).
"""

from __future__ import annotations

from dataclasses import dataclass

from forgelang import ast
from forgelang.diagnostics import DiagnosticError, Diagnostics
from forgelang.loader import parse_recipe
from forgelang.source import Source

OVERRIDE_FILE = "<--set>"


@dataclass(frozen=True)
class Override:
    path: tuple[str, ...]
    expr: ast.Expr
    text: str


def parse_overrides(items: list[str], diags: Diagnostics) -> list[Override]:
    """Parse ``k=v`` strings; problems become E100 diagnostics."""
    out = []
    for i, raw in enumerate(items):
        name = f"{OVERRIDE_FILE}[{i}]"
        key, eq, value = raw.partition("=")
        parts = tuple(p.strip() for p in key.strip().split("."))
        if not eq or not all(p.isidentifier() for p in parts):
            diags.add("E100", f"cannot read override `{raw}`", None,
                      "write --set PHASE.KEY=VALUE, e.g. --set evomerge.generations=10")
            continue
        text = f"let v = {value}"
        diags.sources[name] = Source(name, text)
        try:
            let = parse_recipe(text, name).statements[0]
        except (DiagnosticError, IndexError) as e:
            diags.extend(getattr(e, "diagnostics", []))
            diags.add("E100", f"cannot read the value of override `{raw}`", None,
                      'values use .forge syntax: 10, 2e-4, "text", [a, b]')
            continue
        out.append(Override(parts, let.value, raw))
    return out


def set_path(data: dict, path: tuple[str, ...], value) -> None:
    """Set ``data[path[0]]...[path[-1]] = value``, creating blocks on the way.

    A block given by a built-in name (``architecture = smoke``, ``optimizer =
    mugrokfast_pretrain``) becomes ``{"extends": name}`` first, so ``--set
    cognate.architecture.memory_chunk=8`` changes one field of the named preset instead
    of replacing the preset.
    """
    for key in path[:-1]:
        child = data.get(key)
        if isinstance(child, str):
            child = {"extends": child}
        elif not isinstance(child, dict):
            child = {}
        data[key] = child
        data = child
    data[path[-1]] = value
