"""docs/phases.md is generated from the Params models and must match them."""

from pathlib import Path

from forgelang.docs_gen import DOC_PATH, phases_markdown
from forgelang.kinds import KINDS, TECHNIQUES


def test_docs_file_is_up_to_date():
    assert DOC_PATH == Path(__file__).resolve().parents[3] / "docs" / "phases.md"
    assert DOC_PATH.read_text() == phases_markdown(), (
        "docs/phases.md is stale: regenerate it with `python -m forgelang.docs_gen`")


def test_docs_name_every_parameter_and_metric():
    text = phases_markdown()
    for name in KINDS.names():
        kind = KINDS.get(name)
        assert f"## `{name}`" in text
        for metric in kind.metrics:
            assert f"`{metric}`" in text
        for field, info in kind.params.model_fields.items():
            key = info.alias or field
            assert f"| `{key}" in text, (name, key)
    for name in TECHNIQUES.names():
        assert f"### `{name}`" in text
    assert "| `lambda` |" in text and "| `optimizer.muon_lr` |" in text
