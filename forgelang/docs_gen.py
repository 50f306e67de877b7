"""Generate docs/phases.md from the kinds' Params models (the docs cannot drift).

Regenerate after changing a kind: ``python -m forgelang.docs_gen`` (writes docs/phases.md).
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from forgelang.kinds import KINDS, TECHNIQUES
from forgelang.kinds.base import COMMON_METRICS, Kind, _expression_source
from forgelang.kinds.compression import STAGES
from forgelang.kinds.optimizer import OPTIMIZER_PRESETS

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "phases.md"
HEADER = """# Phase reference

Generated from the kinds' pydantic models by `python -m forgelang.docs_gen`; do not edit.

A phase block sets any of these parameters; nested blocks are written `name { ... }`
and appear here as dotted names. Unknown parameters are errors. Sizes, durations and
percentages are converted before validation (`95%` is 0.95). Every phase that outputs a
model also records the common metrics: {common}.
"""


def type_name(annotation, metadata=()) -> str:
    """A reader's name for a field type."""
    if any(getattr(m, "func", None) is _expression_source for m in metadata):
        return "expression"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_name(args[0], args[1:])
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [type_name(a) for a in args if a is not type(None)]
        inner = " \\| ".join(names)
        return f"{inner} or unset" if type(None) in args else inner
    if origin is list:
        return f"list of {type_name(args[0])}" if args else "list"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        name = annotation.__name__
        return "technique" if name == "Technique" else "block"
    return getattr(annotation, "__name__", str(annotation))


def _num(x) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def range_text(info: FieldInfo) -> str:
    """Allowed range from the field's constraints, e.g. ``0 <= x <= 1``."""
    lo = hi = ""
    for m in info.metadata:
        if isinstance(m, at.Ge):
            lo = f"{_num(m.ge)} <= "
        elif isinstance(m, at.Gt):
            lo = f"{_num(m.gt)} < "
        elif isinstance(m, at.Le):
            hi = f" <= {_num(m.le)}"
        elif isinstance(m, at.Lt):
            hi = f" < {_num(m.lt)}"
        elif isinstance(m, at.MinLen):
            lo = f"at least {m.min_length} items"
    if lo.startswith("at least"):
        return lo
    return f"{lo}x{hi}" if lo or hi else ""


def value_text(value) -> str:
    if isinstance(value, BaseModel):
        return f"`{value.type}`" if hasattr(value, "type") else "block"
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v).strip("`") for v in value) + "]"
    if value is None:
        return "unset"
    return f"`{json.dumps(value)}`" if not isinstance(value, float) else f"`{value:g}`"


def param_rows(model: type[BaseModel], values: BaseModel, prefix: str = "") -> list[str]:
    """Table rows for every field, nested blocks flattened with their parent's defaults."""
    rows = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key == "type":
            continue
        value = getattr(values, name)
        sub = info.annotation
        if typing.get_origin(sub) is typing.Annotated:
            sub = typing.get_args(sub)[0]
        desc = (info.description or "").replace("|", "\\|")
        if isinstance(sub, type) and issubclass(sub, BaseModel) and sub.__name__ != "Technique":
            if "type" in sub.model_fields:  # a typed block: say its type, then its fields
                rows.append(f"| `{prefix}{key}` | `{value.type}` block | | | {desc} |")
            rows.extend(param_rows(type(value), value, f"{prefix}{key}."))
            continue
        rows.append(f"| `{prefix}{key}` | {type_name(info.annotation, info.metadata)} | "
                    f"{value_text(value)} | {range_text(info)} | {desc} |")
    return rows


TABLE_HEAD = ["| parameter | type | default | range | description |",
              "|---|---|---|---|---|"]


def kind_section(kind: Kind) -> list[str]:
    lo, hi = kind.inputs
    inputs = f"{lo}" if lo == hi else f"{lo} to {'any' if hi is None else hi}"
    metrics = ", ".join(f"`{m}`" for m in kind.metrics)
    data = ("the synthetic suite or a JSONL file (its `data`, else the recipe's)"
            if kind.jsonl_data else "the synthetic suite only (a JSONL `data` file is E074)")
    lines = [f"## `{kind.name}`", "", kind.summary, "", f"- inputs: {inputs} model(s)",
             f"- kernel version: {kind.version}", f"- trains and measures on: {data}",
             f"- metrics: {metrics}", ""]
    doc = (kind.params.__doc__ or "").strip()
    if doc:
        lines += [doc, ""]
    return lines + TABLE_HEAD + param_rows(kind.params, kind.params()) + [""]


def techniques_section() -> list[str]:
    lines = ["## Merge techniques (`evomerge`)", "",
             "Write a technique bare (`ties`) for its defaults or as a block "
             "(`ties { density = 0.3 }`).", ""]
    for name in TECHNIQUES.names():
        model = TECHNIQUES.get(name)
        lines += [f"### `{name}`", "", (model.__doc__ or "").strip(), ""]
        rows = param_rows(model, model())
        lines += (TABLE_HEAD + rows) if rows else ["No parameters."]
        lines.append("")
    return lines


def stages_section() -> list[str]:
    lines = ["## Compression stages (`compression.stages`)", ""]
    for name, model in STAGES.items():
        default = model()
        lines += [f"### `{name}`", "", (model.__doc__ or "").strip(), "",
                  f"Bits per weight at the defaults: {default.bits_per_weight():.3g}.", ""]
        lines += TABLE_HEAD + param_rows(model, default) + [""]
    return lines


def presets_section() -> list[str]:
    lines = ["## Optimizer presets", "", "`optimizer = NAME` selects a built-in MuGrokfast "
             "preset; fields not listed keep the MuGrokfast defaults.", "",
             "| preset | overrides |", "|---|---|"]
    for name, values in OPTIMIZER_PRESETS.items():
        text = ", ".join(f"{k} = {v}" for k, v in values.items()) or "(defaults)"
        lines.append(f"| `{name}` | {text} |")
    return lines + [""]


def phases_markdown() -> str:
    """The full text of docs/phases.md."""
    common = ", ".join(f"`{m}`" for m in COMMON_METRICS)
    lines = [HEADER.replace("{common}", common)]
    for name in KINDS.names():
        lines += kind_section(KINDS.get(name))
    lines += presets_section() + techniques_section() + stages_section()
    return "\n".join(lines).rstrip() + "\n"


def write(path: Path = DOC_PATH) -> Path:
    """Write docs/phases.md."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(phases_markdown())
    return path


if __name__ == "__main__":
    print(write())
