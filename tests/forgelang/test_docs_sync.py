"""Generated docs stay in sync with the code."""

from pathlib import Path

from forgelang.diagnostics_doc import diagnostics_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_diagnostics_doc_in_sync():
    assert (DOCS / "diagnostics.md").read_text() == diagnostics_markdown(), (
        "regenerate: python -m forgelang.diagnostics_doc > docs/diagnostics.md")
