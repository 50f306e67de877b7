"""kill -9 during the curriculum phase (after its training stage, before its last rule
bake), then run again with the same checkpoint directory: the same model bytes and
metrics as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

import runtime.phases.curriculum  # noqa: F401  (registers the kernel)
from forgelang.kinds.curriculum import CurriculumParams
from runtime.artifacts import hash_directory
from runtime.kernels import KERNELS
from tests.runtime.phases.kernel_inputs import INPUTS, phase_context
from tests.subprocess_env import repo_pythonpath

REPO = Path(__file__).resolve().parents[3]
PARAMS = dict(levels=2, questions=12, batch_size=4, seq_len=64,
              controller={"window": 4, "min_questions": 4, "assessment_questions": 2},
              dream={"every": 8, "replay_ratio": 0.5},
              eudaimonia={"rules": ["Be honest.", "Be kind.", "Be brief.", "Be fair."],
                          "bake": {"steps": 2, "trajectories": 4, "trajectory_tokens": 6,
                                   "batch_size": 2}},
              eval={"examples": 3, "max_new_tokens": 4, "batch_size": 8, "levels": [1]})
CHILD = """
import sys
from pathlib import Path
import torch
torch.set_num_threads(1)
import runtime.phases.curriculum
from forgelang.kinds.curriculum import CurriculumParams
from runtime.kernels import InputModel, KERNELS
from tests.runtime.phases.kernel_inputs import phase_context
from tests.runtime.curriculum.test_curriculum_kill9 import PARAMS
root, source = Path(sys.argv[1]), Path(sys.argv[2])
KERNELS.get("curriculum").run(phase_context(root, "curriculum"), CurriculumParams(**PARAMS),
                              [InputModel(path=source, role="external")])
"""


def _run(root: Path, source):
    return KERNELS.get("curriculum").run(phase_context(root, "curriculum"),
                                         CurriculumParams(**PARAMS), [source])


def test_kill_9_then_apply_again_gives_the_same_model(tmp_path):
    torch.set_num_threads(1)
    source = INPUTS["llama"](tmp_path / "in")
    whole = _run(tmp_path / "whole", source)
    root = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(root), str(source.path)],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": repo_pythonpath()},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not (root / "ckpt" / "rule1.json").exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "the phase never reached its second bake"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert (root / "ckpt" / "adaptive.json").exists()
    resumed = _run(root, source)
    assert hash_directory(resumed.models[0].path) == hash_directory(whole.models[0].path)
    assert resumed.metrics == whole.metrics
