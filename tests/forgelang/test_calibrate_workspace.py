"""`forge calibrate --workspace DIR` keeps the profile with DIR, says where, and plan on
that workspace uses it (the user's own calibration file is untouched)."""

from __future__ import annotations

import json
from dataclasses import replace

from forgelang.cli import main
from forgelang.devices import BUILTIN

RECIPE = "recipes/smoke.forge"


def test_calibration_kept_with_a_workspace_is_what_plan_uses(tmp_path, monkeypatch, capsys):
    import runtime.calibrate

    measured = replace(BUILTIN["cpu"], peak_flops=1.234e9, source="calibrated today")
    monkeypatch.setattr(runtime.calibrate, "measure", lambda device: measured)
    monkeypatch.setenv("FORGE_CALIBRATION", "unused")
    monkeypatch.delenv("FORGE_CALIBRATION")  # restored (absent) after the test
    monkeypatch.setenv("FORGE_NO_CACHE", "1")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home"))
    ws = tmp_path / "ws"
    assert main(["calibrate", "--workspace", str(ws)]) == 0
    out = capsys.readouterr()
    assert str(ws / "calibration.json") in out.err and str(ws / "calibration.json") in out.out
    assert not (tmp_path / "home").exists()
    assert main(["plan", RECIPE, "--json", "--workspace", str(ws)]) == 0
    target = json.loads(capsys.readouterr().out)["target"]
    assert target["peak_flops"] == 1.234e9 and target["source"] == "calibrated today"
