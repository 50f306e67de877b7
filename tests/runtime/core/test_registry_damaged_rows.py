"""A readable registry with damaged rows: one line and exit 2, never a traceback or a hang."""

from __future__ import annotations

import sqlite3

import forge_test_kernels as tk
import pytest

from runtime import commands
from runtime.orchestrator import PipelineOrchestrator


@pytest.fixture
def filled(workspace, kernels):
    """A workspace after a three-phase run of the test kernels."""
    with PipelineOrchestrator(tk.make_plan(tk.CHAIN), workspace, kernels=kernels,
                              output="quiet") as p:
        assert p.run_full_pipeline().exit_code == 0
    return workspace


def _damage(workspace, *statements: str) -> None:
    with sqlite3.connect(workspace / "registry.db") as db:
        for sql in statements:
            db.execute(sql)


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize("sql", ["UPDATE phase_runs SET estimate = 'x'",
                                 "UPDATE phase_runs SET params = '[1]'",
                                 "UPDATE models SET details = '{bad'",
                                 "UPDATE phase_runs SET source_id = 999 WHERE id = 1"])
def test_show_of_a_damaged_row_is_one_line(filled, capsys, sql):
    _damage(filled, sql)
    capsys.readouterr()
    assert commands.show(filled) == 2
    assert "damaged" in _one_line(capsys)


def test_a_parent_chain_too_deep_or_wide_is_one_line(filled, capsys):
    # 60 models, each made from the two before it: 2**60 paths if walked naively
    rows = ", ".join(f"({i}, 1, '{i:064x}', 'x', 1, 1, 'tiny', 0)" for i in range(100, 160))
    links = ", ".join(f"({i}, {i - 1}), ({i}, {i - 2})" for i in range(102, 160))
    _damage(filled, "INSERT INTO models (id, phase_run_id, sha256, role, params, size_bytes, "
                    f"size_category, created_at) VALUES {rows}",
            f"INSERT INTO model_parents (model_id, parent_id) VALUES {links}")
    capsys.readouterr()
    assert commands.lineage(filled, "159") == 2
    assert "damaged" in _one_line(capsys)
