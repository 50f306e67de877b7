"""``forge report`` as a function: the file it writes, and one-line errors (exit 2)."""

from __future__ import annotations

from report_runs import write_run

from runtime.commands_report import report


def test_writes_the_newest_run_to_the_current_directory(tmp_path, monkeypatch, capsys):
    write_run(tmp_path / "ws", "run-1")
    write_run(tmp_path / "ws", "run-2", steps=30)
    monkeypatch.chdir(tmp_path)
    assert report(workspace=tmp_path / "ws") == 0
    page = (tmp_path / "report-run-2.html").read_text()
    assert "Run run-2" in page and page.rstrip().endswith("</html>")
    assert "wrote report-run-2.html (run run-2, completed)" in capsys.readouterr().out


def test_out_may_be_a_file_or_a_directory(tmp_path):
    write_run(tmp_path / "ws", "run-1")
    assert report(workspace=tmp_path / "ws", run="run-1", out=tmp_path / "r.html") == 0
    assert (tmp_path / "r.html").stat().st_size > 10_000
    (tmp_path / "dir").mkdir()
    assert report(workspace=tmp_path / "ws", run="run-1", out=tmp_path / "dir") == 0
    assert (tmp_path / "dir" / "report-run-1.html").exists()
    assert not list(tmp_path.glob("dir/.*tmp"))  # the temporary file is gone


def test_a_run_id_cannot_steer_the_file_name(tmp_path, monkeypatch):
    write_run(tmp_path / "ws", "../../evil/x")
    monkeypatch.chdir(tmp_path)
    assert report(workspace=tmp_path / "ws") == 0
    assert (tmp_path / "report-.._.._evil_x.html").exists()


def test_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    assert report(workspace=tmp_path / "empty") == 2
    assert "no registry at" in capsys.readouterr().err
    write_run(tmp_path / "ws", "run-1")
    assert report(workspace=tmp_path / "ws", run="nope") == 2
    assert capsys.readouterr().err.strip() == "error: no run 'nope' in this workspace"
    assert report(workspace=tmp_path / "ws", out=tmp_path / "missing" / "r.html") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write the report to") and "Traceback" not in err
