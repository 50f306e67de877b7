"""Training keeps freed memory in the process: a step stops re-faulting its pages."""

import json
import os
import subprocess
import sys

import pytest

from tests.subprocess_env import repo_pythonpath

# Runs in its own process: the allocator settings are process-wide and cannot be undone.
SCRIPT = """
import json, resource
import torch
import runtime.training.loop as loop
from runtime.nn import TrmTitansMagForCausalLM
from runtime.nn.presets import preset_config
from runtime.optim import MuGrokfast
from runtime.utils.allocator import retain_freed_memory

torch.manual_seed(0)
config = preset_config("tiny")
model = TrmTitansMagForCausalLM(config)
optimizer = MuGrokfast.from_config(model, {})
ids = torch.randint(4, config.vocab_size, (4, 64))

def faults_per_step(start):
    # the median step: one step that grows the heap (a one-off) must not decide it
    loop.train_steps(model, optimizer, lambda s: (ids, ids), start + 3, start_step=start)
    faults = []
    for step in range(start + 3, start + 10):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        loop.train_steps(model, optimizer, lambda s: (ids, ids), step + 1, start_step=step)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return sorted(faults)[len(faults) // 2]

loop.retain_freed_memory = lambda: False  # glibc's defaults first
default = faults_per_step(0)
loop.retain_freed_memory = retain_freed_memory
print(json.dumps({"default": default, "retained": faults_per_step(10),
                  "set": retain_freed_memory()}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc settings")
def test_training_steps_stop_faulting_pages_in():
    """With glibc's defaults a tiny-model step faults in ~1,000 pages (its freed tensors went
    back to the kernel); once the training loop has raised the thresholds, almost none."""
    env = {**os.environ, "PYTHONPATH": repo_pythonpath()}
    env = {k: v for k, v in env.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         env=env, timeout=300, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["set"]:
        pytest.skip("this libc has no glibc mallopt")
    if result["default"] < 100:
        pytest.skip(f"this malloc already keeps freed memory ({result['default']} faults/step)")
    assert result["retained"] < result["default"] / 5
