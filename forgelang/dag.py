"""Phase data flow: default inputs (the previous phase), explicit inputs, ordering."""

from __future__ import annotations

from pathlib import Path

from forgelang.diagnostics import Diagnostics, did_you_mean
from forgelang.kinds import KINDS
from forgelang.plan import EXTERNAL_PREFIX


def link_inputs(specs: list, base_dir: Path, diags: Diagnostics) -> None:
    """Fill each phase's inputs: explicit names/paths, else the previous phase."""
    names = [s.name for s in specs]
    previous = None
    for spec in specs:
        takes_inputs = KINDS.get(spec.kind).inputs[1] != 0
        if spec.inputs is None:
            spec.inputs = [previous] if (previous and takes_inputs) else []
        else:
            spans = spec.input_spans or [None] * len(spec.inputs)
            spec.inputs = [_input(i, spec, names, base_dir, diags, sp)
                           for i, sp in zip(spec.inputs, spans, strict=False)]
            spec.inputs = [i for i in spec.inputs if i]
        previous = spec.name


def _input(value, spec, names: list[str], base_dir: Path, diags: Diagnostics,
           span=None) -> str | None:
    span = span or spec.span
    if not isinstance(value, str):
        diags.add("E022", "`inputs` lists phase names or model directories", span,
                  'e.g. inputs = [cognate] or inputs = ["./models/a", "./models/b"]')
        return None
    if value in names:
        if value == spec.name:
            diags.add("E071", f"phase `{spec.name}` lists itself as an input", span, None)
            return None
        return value
    if "/" in value or value.startswith(".") or (base_dir / value).is_dir():
        return EXTERNAL_PREFIX + str((base_dir / value).resolve())
    diags.add("E070", f"input `{value}` of phase `{spec.name}` is not a phase", span,
              did_you_mean(value, names) or 'a model directory is written as a path: "./dir"')
    return None


def toposort(specs: list, diags: Diagnostics) -> list:
    """Phases in an order where inputs come first; declaration order breaks ties."""
    by_name = {s.name: s for s in specs}
    done: list = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(spec, chain):
        if state.get(spec.name) == 2:
            return
        if state.get(spec.name) == 1:
            cycle = " -> ".join(chain[chain.index(spec.name):] + [spec.name])
            diags.add("E071", f"phase inputs form a cycle: {cycle}", spec.span,
                      "a phase cannot depend on its own output")
            return
        state[spec.name] = 1
        for name in spec.inputs:
            if name in by_name:
                visit(by_name[name], chain + [spec.name])
        state[spec.name] = 2
        done.append(spec)

    for spec in specs:
        visit(spec, [])
    return done
