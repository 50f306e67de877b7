"""The report's sections from a hand-written registry: present when their data is,
skipped cleanly when it is not, and every registry string escaped."""

from __future__ import annotations

import re

import pytest
from report_runs import HOSTILE, write_run

from runtime.registry import ModelRegistry, RegistryError
from runtime.report import build_sections, gather, render
from runtime.report.graph_chart import Node, layers


def _data(workspace, run_id=None):
    with ModelRegistry(workspace, create=False) as reg:
        return gather(reg, run_id)


def _keys(data) -> list[str]:
    return [s.key for s in build_sections(data)]


def test_every_section_of_a_full_run(tmp_path):
    write_run(tmp_path, "run-1")
    keys = _keys(_data(tmp_path))
    assert keys[:3] == ["graph", "estimates", "training"]
    for key in ("evolution-1", "lineage", "retention", "gates", "pareto-2", "compression-3",
                "metrics"):
        assert key in keys


def test_later_sections_are_skipped_without_their_metrics(tmp_path):
    write_run(tmp_path, "run-1", extra_phases=False)
    keys = _keys(_data(tmp_path))
    assert not [k for k in keys if k.startswith(("pareto", "compression"))]
    assert "evolution-1" in keys and "lineage" in keys


def test_pareto_and_stage_tables_read_prefixed_metrics(tmp_path):
    write_run(tmp_path, "run-1")
    sections = {s.key: s for s in build_sections(_data(tmp_path))}
    pareto = sections["pareto-2"]
    assert len(pareto.charts) == 1 and "<svg" in pareto.charts[0]
    stages = sections["compression-3"].tables[0]
    assert stages.headers == ["stage", "bits_per_weight", "compression_ratio", "retention"]
    assert [r[0] for r in stages.rows] == ["seedlm", "vptq"]
    assert stages.rows[1][1:] == ["1", "16", "0.9"]


def test_training_curves_carry_model_roles(tmp_path):
    write_run(tmp_path, "run-1", steps=15)
    data = _data(tmp_path)
    labels = {s.label for s in data.series["cognate"]}
    assert {"loss (reasoning)", "loss (memory)", "loss.pretrain"} <= labels
    assert all(len(s.steps) == 15 for s in data.series["cognate"])


def test_lineage_reaches_the_first_phase(tmp_path):
    write_run(tmp_path, "run-1")
    data = _data(tmp_path)
    (tree,) = data.lineage
    assert tree["phase"] == "compression"
    table = {s.key: s for s in build_sections(data)}["lineage"].tables[0]
    assert sorted(r[1] for r in table.rows) == ["cognate", "cognate", "compression",
                                                "evomerge", "experts"]


def test_registry_strings_are_escaped(tmp_path):
    """A hostile recipe name, message, model role (drawn in the charts' SVG text) and
    lineage details never reach the page as markup."""
    write_run(tmp_path, "run-1", recipe=HOSTILE, message=HOSTILE)
    with ModelRegistry(tmp_path) as reg:
        reg._conn.execute("UPDATE models SET role = ? WHERE role = 'memory'", (HOSTILE,))
    data = _data(tmp_path)
    html = render(data)
    assert "<script" not in html
    assert html.count("&lt;script&gt;alert(") >= 5  # title, header, message, legend, table
    svg = "".join(c for s in build_sections(data) for c in s.charts)
    assert "&lt;script&gt;alert(" in svg and "<script" not in svg


def test_a_dollar_sign_is_not_math(tmp_path):
    """Phase and role names reach the charts' text; mathtext is off, so '$a$' stays text."""
    write_run(tmp_path, "run-1")
    with ModelRegistry(tmp_path) as reg:
        reg._conn.execute("UPDATE models SET role = '$\\frac{' WHERE role = 'memory'")
    html = render(_data(tmp_path))
    assert "$\\frac{" in html


def test_a_damaged_plan_is_a_registry_error(tmp_path):
    write_run(tmp_path, "run-1")
    with ModelRegistry(tmp_path) as reg:
        reg._conn.execute("UPDATE runs SET config = '[1, 2'")
    with pytest.raises(RegistryError, match="damaged"):
        _data(tmp_path)


def test_an_unknown_run_is_a_registry_error(tmp_path):
    write_run(tmp_path, "run-1")
    with pytest.raises(RegistryError, match="no run 'nope'"):
        _data(tmp_path, "nope")


def test_layers_ignore_cycles_and_unknown_inputs():
    nodes = [Node("a", "a"), Node("b", "b"), Node("c", "c")]
    depth = layers(nodes, [("a", "b"), ("b", "c"), ("c", "a"), ("zz", "a"), ("b", "b")])
    assert depth["a"] in (0, 2) and sorted(depth.values()) == [0, 1, 2]


def test_the_page_is_self_contained(tmp_path):
    write_run(tmp_path, "run-1")
    html = render(_data(tmp_path))
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html
    assert html.count("<svg") == len(re.findall(r'<figure class="chart">\s*<svg', html)) >= 8


@pytest.mark.parametrize("damage", [
    "UPDATE models SET params = 'x', size_bytes = 'y', sha256 = 5, role = 7",
    "UPDATE metrics SET value = 'z' WHERE id % 3 = 0",
    "UPDATE metrics SET step = 's' WHERE id % 2 = 0",
    "UPDATE gate_verdicts SET value = 'w', threshold = 'q', passed = 'r'",
    "UPDATE runs SET created_at = 'x', finished_at = 'y'",
])
def test_damaged_values_are_left_out_not_a_crash(tmp_path, damage):
    """SQLite keeps text in a numeric column; the page shows '-' or drops the point."""
    write_run(tmp_path, "run-1")
    with ModelRegistry(tmp_path) as reg:
        reg._conn.execute(damage)
    html = render(_data(tmp_path))
    assert html.rstrip().endswith("</html>") and "<svg" in html
