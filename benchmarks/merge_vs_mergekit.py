"""Our directory merge vs mergekit on the same two ~30M-parameter Llama directories.

Builds two Llama-style models locally (seeded random init, the second a perturbed copy of
the first, like a fine-tune), saves them with save_pretrained, then for linear, SLERP and
TIES runs each tool as a fresh child process, interleaved, ``--runs`` times: our
``merge_directories`` and mergekit's ``mergekit-yaml`` CLI. Wall time (median) and peak RSS
(max over runs, from ``os.wait4`` of that child) are printed with the ratios ours/mergekit.
Both include interpreter start-up and imports, as a user running either tool would see.
Target (issue 5): wall <= 0.5x mergekit at <= its peak memory.

    FORGE_MERGEKIT_PYTHON=/tmp/mkvenv/bin/python python benchmarks/merge_vs_mergekit.py
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# ~30M parameters: embeddings 2 x 8192 x 512 + 7 layers x ~3.2M
CONFIG = dict(vocab_size=8192, hidden_size=512, intermediate_size=1376, num_hidden_layers=7,
              num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=512,
              tie_word_embeddings=False)
TECHNIQUES = {"linear": {}, "slerp": {"t": 0.3}, "ties": {"density": 0.2, "lambda": 1.0}}


def build_models(root: Path) -> tuple[list[Path], int]:
    """Two seeded Llama directories and their parameter count."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**CONFIG))
    n_params = sum(p.numel() for p in model.parameters())
    dirs = [root / "a", root / "b"]
    model.save_pretrained(dirs[0])
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=gen))
    model.save_pretrained(dirs[1])
    return dirs, n_params


def ours_cmd(technique: str, dirs: list[Path], out: Path) -> list[str]:
    """A child process running our merge_directories (base = first, like mergekit)."""
    request = {"technique": technique, "settings": TECHNIQUES[technique], "base": "first"}
    code = ("import sys, json; from runtime.merge import MergeRequest, merge_directories; "
            "merge_directories(MergeRequest.from_json(json.loads(sys.argv[1])), "
            "sys.argv[2:4], sys.argv[4])")
    return [sys.executable, "-c", code, json.dumps(request), *map(str, dirs), str(out)]


def mergekit_cmd(python: str, technique: str, dirs: list[Path], out: Path) -> list[str]:
    """A child process running ``mergekit-yaml`` on the equivalent config."""
    a, b = map(str, dirs)
    config: dict = {"merge_method": technique, "dtype": "float32", "out_dtype": "float32"}
    if technique == "linear":
        config["models"] = [{"model": a, "parameters": {"weight": 1.0}},
                            {"model": b, "parameters": {"weight": 1.0}}]
    elif technique == "slerp":
        config.update(base_model=a, models=[{"model": a}, {"model": b}], parameters={"t": 0.3})
    else:
        config.update(base_model=a, parameters={"lambda": 1.0},
                      models=[{"model": b, "parameters": {"weight": 1.0, "density": 0.2}}])
    path = out.parent / f"{out.name}.yml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is valid YAML
    return [python, "-m", "mergekit.scripts.run_yaml", str(path), str(out), "--quiet"]


def measure(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {child.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024  # Linux reports KiB


def mergekit_python() -> str | None:
    """FORGE_MERGEKIT_PYTHON, or this interpreter when it has mergekit."""
    env = os.environ.get("FORGE_MERGEKIT_PYTHON")
    if env:
        return env
    return sys.executable if importlib.util.find_spec("mergekit") else None


def main() -> None:
    """Build the models, time both tools per technique, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    python = mergekit_python()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dirs, n_params = build_models(root)
        print(f"inputs: 2 Llama dirs, {n_params / 1e6:.1f}M parameters each (fp32), "
              f"{args.runs} runs each, cpus={os.cpu_count()}")
        if python is None:
            print("mergekit not found: set FORGE_MERGEKIT_PYTHON; timing ours only")
        header = (f"{'technique':<10}{'ours s':>9}{'mergekit s':>12}{'wall ratio':>12}"
                  f"{'ours MiB':>10}{'mergekit MiB':>14}{'mem ratio':>11}")
        print(header)
        for technique in TECHNIQUES:
            print(_row(technique, dirs, root, python, args.runs))


def _row(technique: str, dirs: list[Path], root: Path, python: str | None, runs: int) -> str:
    """Interleaved runs of both tools for one technique, as one table row."""
    ours, theirs = [], []
    for i in range(runs):
        ours.append(measure(ours_cmd(technique, dirs, root / f"ours-{technique}-{i}")))
        if python:
            theirs.append(measure(mergekit_cmd(python, technique, dirs,
                                               root / f"mk-{technique}-{i}")))
    wall = statistics.median(w for w, _ in ours)
    peak = max(m for _, m in ours)
    if not theirs:
        return f"{technique:<10}{wall:>9.2f}{'-':>12}{'-':>12}{peak:>10.0f}{'-':>14}{'-':>11}"
    mk_wall = statistics.median(w for w, _ in theirs)
    mk_peak = max(m for _, m in theirs)
    return (f"{technique:<10}{wall:>9.2f}{mk_wall:>12.2f}{wall / mk_wall:>11.2f}x"
            f"{peak:>10.0f}{mk_peak:>14.0f}{peak / mk_peak:>10.2f}x")


if __name__ == "__main__":
    main()
