"""Run mergekit (a test-only reference) as a subprocess and read its output.

mergekit drags in datasets/peft/accelerate, so it may live in a separate virtual env:
``FORGE_MERGEKIT_PYTHON=/path/to/venv/bin/python``. Without it, the current interpreter is
used when it can import mergekit; otherwise the cross-checks are skipped.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from runtime.merge import MergeRequest


def mergekit_python() -> str | None:
    """An interpreter that can run mergekit, or None."""
    env = os.environ.get("FORGE_MERGEKIT_PYTHON")
    if env:
        return env if Path(env).exists() else None
    return sys.executable if importlib.util.find_spec("mergekit") else None


def mergekit_config(request: MergeRequest, dirs: list[Path]) -> dict:
    """The mergekit config equivalent to ``request`` (linear, slerp, task_arithmetic, ties).

    Task-vector techniques map to mergekit's ``base_model`` = our ``base = "first"``.
    """
    s, paths = request.settings, [str(d) for d in dirs]
    weights = list(request.weights or [1.0] * len(dirs))
    config = {"merge_method": request.technique, "dtype": "float32", "out_dtype": "float32"}
    if request.technique == "linear":
        config["models"] = [{"model": p, "parameters": {"weight": w}} for p, w in zip(paths, weights, strict=True)]
    elif request.technique == "slerp":
        config.update(base_model=paths[0], models=[{"model": p} for p in paths],
                      parameters={"t": s["t"]})
    elif request.technique in ("task_arithmetic", "ties"):
        assert request.base == "first", "mergekit's base_model is our base = first"
        extra = {"density": s["density"]} if request.technique == "ties" else {}
        config.update(base_model=paths[0], parameters={"lambda": s.get("lambda", 1.0)},
                      models=[{"model": p, "parameters": {"weight": w, **extra}}
                              for p, w in zip(paths[1:], weights[1:], strict=True)])
    else:
        raise ValueError(f"no mergekit equivalent for {request.technique}")
    return config


# Runs in mergekit's interpreter: one process for all jobs (its start-up takes seconds).
_BATCH = """
import json, sys
from mergekit.config import MergeConfiguration
from mergekit.merge import run_merge
from mergekit.options import MergeOptions
for config, out in json.load(open(sys.argv[1])):
    run_merge(MergeConfiguration.model_validate(config), out, options=MergeOptions(quiet=True))
"""


def run_mergekit(python: str, jobs: list[tuple[dict, Path]]) -> list[dict[str, torch.Tensor]]:
    """Run mergekit's ``run_merge`` on each (config, out dir) and load every output tensor."""
    spec = jobs[0][1].parent / "mergekit_jobs.json"
    spec.write_text(json.dumps([[config, str(out)] for config, out in jobs]), encoding="utf-8")
    done = subprocess.run([python, "-c", _BATCH, str(spec)], capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"mergekit failed:\n{done.stderr[-3000:]}")
    results = []
    for _, out in jobs:
        tensors: dict[str, torch.Tensor] = {}
        for file in sorted(out.glob("*.safetensors")):
            tensors.update(load_file(file))
        results.append(tensors)
    return results
