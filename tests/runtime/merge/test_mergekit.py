"""Linear, SLERP, task arithmetic and TIES agree with mergekit on the same directories."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from runtime.merge import MergeRequest, merge_directories
from tests.runtime.merge.mergekit_cli import mergekit_config, mergekit_python, run_mergekit

PYTHON = mergekit_python()
# slow: one mergekit process costs ~10 s of start-up (imports) before any merge
pytestmark = [pytest.mark.mergekit, pytest.mark.slow,
              pytest.mark.skipif(PYTHON is None, reason="mergekit not installed (set "
                                 "FORGE_MERGEKIT_PYTHON to a venv's python that has it)")]

CASES = [
    (MergeRequest("linear", weights=(0.2, 0.5, 0.3)), 3),
    (MergeRequest("slerp", {"t": 0.3}), 2),
    (MergeRequest("task_arithmetic", {"lambda": 0.7}, weights=(1.0, 0.6, 0.9), base="first"), 3),
    (MergeRequest("ties", {"density": 0.3, "lambda": 1.0}, weights=(1.0, 0.7, 1.0),
                  base="first"), 3),
    (MergeRequest("ties", {"density": 0.5, "lambda": 0.8}, base="first"), 2),
]
IDS = [f"{r.technique}-{n}" for r, n in CASES]


@pytest.fixture(scope="module")
def merged(llama_dirs, tmp_path_factory):
    """Per case: (our tensors, mergekit's tensors), all merged from the same directories."""
    root = tmp_path_factory.mktemp("vs_mergekit")
    ours, jobs = [], []
    for i, (request, n) in enumerate(CASES):
        dirs = llama_dirs[:n]
        out = merge_directories(request, dirs, root / f"ours{i}")
        ours.append(load_file(out / "model.safetensors"))
        jobs.append((mergekit_config(request, dirs), root / f"mergekit{i}"))
    return list(zip(ours, run_mergekit(PYTHON, jobs), strict=True))


@pytest.mark.parametrize("case", range(len(CASES)), ids=IDS)
def test_agrees_with_mergekit(case, merged, llama_dirs):
    ours, theirs = merged[case]
    assert ours.keys() == theirs.keys()
    for key, tensor in ours.items():
        torch.testing.assert_close(tensor, theirs[key], rtol=1e-5, atol=1e-6, msg=key)
    # a real merge happened: the result is none of the inputs
    inputs = [load_file(d / "model.safetensors") for d in llama_dirs[:CASES[case][1]]]
    key = "model.layers.1.mlp.down_proj.weight"
    assert all(not torch.allclose(ours[key], x[key]) for x in inputs)
