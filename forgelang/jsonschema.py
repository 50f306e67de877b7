"""``forge schema``: JSON Schema of the recipe model, generated from the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path

from forgelang.kinds import KINDS
from forgelang.schema import RecipeHeader


def schemas() -> dict[str, dict]:
    """File name -> JSON Schema: the recipe header and one per phase kind."""
    out = {"recipe.schema.json": RecipeHeader.model_json_schema()}
    for name in KINDS.names():
        out[f"phase.{name}.schema.json"] = KINDS.get(name).params.model_json_schema()
    return out


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = directory / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written
