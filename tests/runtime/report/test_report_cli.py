"""`forge report` and `forge diff` reach their command functions from the command line."""

from __future__ import annotations

import json

from report_runs import write_run

from forgelang.cli import main


def test_forge_report_and_diff_from_the_command_line(tmp_path, capsys):
    write_run(tmp_path / "a", "run-1")
    write_run(tmp_path / "b", "run-2", steps=30)
    out = tmp_path / "page.html"
    assert main(["report", "run-1", "--workspace", str(tmp_path / "a"), "--out", str(out)]) == 0
    assert out.read_text().rstrip().endswith("</html>")
    capsys.readouterr()
    assert main(["diff", "run-1", "run-2", "--workspace", str(tmp_path / "a"),
                 "--workspace-b", str(tmp_path / "b"), "--json"]) == 0
    assert "run-2" in json.dumps(json.loads(capsys.readouterr().out))
    assert main(["report", "nope", "--workspace", str(tmp_path / "a")]) == 2
