"""A malformed saved plan is refused before torch loads: in well under a second, not ten."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.subprocess_env import repo_pythonpath

CODE = ("import sys; from runtime import commands; "
        "code = commands.apply(sys.argv[1], sys.argv[2]); "
        "print(code, 'torch' in sys.modules)")


def test_a_bad_saved_plan_is_refused_without_loading_torch(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps([1, 2]))
    done = subprocess.run([sys.executable, "-c", CODE, str(plan), str(tmp_path / "ws")],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": repo_pythonpath()})
    assert done.stdout.split() == ["2", "False"], done.stderr
    assert "is a JSON object, not a list" in done.stderr
