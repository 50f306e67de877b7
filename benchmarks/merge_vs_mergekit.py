"""Our directory merge vs mergekit on the same ~30M-parameter Llama directories.

Builds three Llama-style models locally (a seeded random init and two perturbed copies,
like two fine-tunes of one base), saves them with save_pretrained, then for linear (three
inputs), SLERP (two) and TIES (the base + two fine-tunes: with one fine-tune, sign
election has nothing to elect) runs each tool as a fresh child process ``--runs`` times,
alternating which tool goes first: our ``merge_directories`` and mergekit's
``mergekit-yaml``. Printed per technique: wall time (median), peak RSS (max over runs, from
``os.wait4`` of that child), the median and range of the per-run ratios ours/mergekit (each
pair ran back to back, so load from other jobs hits both alike), and the largest absolute
difference between the two tools' merged tensors. Both times include interpreter start-up
and imports, as a user running either tool would see. Target (issue 5): wall <= 0.5x
mergekit at <= its peak memory.

mergekit is the ``crosscheck`` extra (``pip install mergekit==0.1.5``), or a separate venv:

    FORGE_MERGEKIT_PYTHON=/tmp/mkvenv/bin/python python benchmarks/merge_vs_mergekit.py

Without it, the script says so and times ours only. ``--tiny`` uses ~0.1M-parameter
models to check that the script works.
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
TINY = dict(CONFIG, vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2)
# technique -> (settings, number of inputs); TIES/linear on three so sign election matters
TECHNIQUES = {"linear": ({}, 3), "slerp": ({"t": 0.3}, 2),
              "ties": ({"density": 0.2, "lambda": 1.0}, 3)}


def build_models(root: Path, config: dict) -> tuple[list[Path], int]:
    """A seeded Llama base and two perturbed copies; their directories and parameter count."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**config))
    n_params = sum(p.numel() for p in model.parameters())
    base = {k: v.clone() for k, v in model.state_dict().items()}
    dirs = [root / "a", root / "b", root / "c"]
    model.save_pretrained(dirs[0])
    gen = torch.Generator().manual_seed(1)
    for directory in dirs[1:]:
        model.load_state_dict(base)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.01 * torch.randn(p.shape, generator=gen))
        model.save_pretrained(directory)
    return dirs, n_params


def ours_cmd(technique: str, dirs: list[Path], out: Path) -> list[str]:
    """A child process running our merge_directories (base = first, like mergekit)."""
    request = {"technique": technique, "settings": TECHNIQUES[technique][0], "base": "first"}
    code = ("import sys, json; from runtime.merge import MergeRequest, merge_directories; "
            "merge_directories(MergeRequest.from_json(json.loads(sys.argv[1])), "
            "sys.argv[2:-1], sys.argv[-1])")
    return [sys.executable, "-c", code, json.dumps(request), *map(str, dirs), str(out)]


def mergekit_cmd(python: str, technique: str, dirs: list[Path], out: Path) -> list[str]:
    """A child process running ``mergekit-yaml`` on the equivalent config."""
    paths = [str(d) for d in dirs]
    settings = TECHNIQUES[technique][0]
    config: dict = {"merge_method": technique, "dtype": "float32", "out_dtype": "float32"}
    if technique == "linear":
        config["models"] = [{"model": p, "parameters": {"weight": 1.0}} for p in paths]
    elif technique == "slerp":
        config.update(base_model=paths[0], models=[{"model": p} for p in paths],
                      parameters={"t": settings["t"]})
    else:  # ties: our base = first is mergekit's base_model; it takes no part in the vote
        config.update(base_model=paths[0], parameters={"lambda": settings["lambda"]},
                      models=[{"model": p, "parameters": {"weight": 1.0,
                                                          "density": settings["density"]}}
                              for p in paths[1:]])
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


def max_abs_diff(ours: Path, theirs: Path) -> float:
    """Largest |ours - mergekit| over every tensor (inf when the tensor names differ)."""
    from safetensors.torch import load_file

    a, b = {}, {}
    for out, into in ((ours, a), (theirs, b)):
        for file in sorted(out.glob("*.safetensors")):
            into.update(load_file(file))
    if a.keys() != b.keys():
        return float("inf")
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def mergekit_python() -> str | None:
    """FORGE_MERGEKIT_PYTHON, or this interpreter when it has mergekit."""
    env = os.environ.get("FORGE_MERGEKIT_PYTHON")
    if env:
        return env if Path(env).exists() else None
    return sys.executable if importlib.util.find_spec("mergekit") else None


def main() -> None:
    """Build the models, time both tools per technique, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="tiny models: check the script")
    args = parser.parse_args()
    python = mergekit_python()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dirs, n_params = build_models(root, TINY if args.tiny else CONFIG)
        print(f"inputs: 3 Llama dirs, {n_params / 1e6:.1f}M parameters each (fp32), "
              f"{args.runs} runs each, order alternating, cpus={os.cpu_count()}")
        if python is None:
            print("mergekit is not installed (pip install mergekit==0.1.5, or set "
                  "FORGE_MERGEKIT_PYTHON to a venv's python that has it): timing ours only")
        print(f"{'technique':<10}{'n':>3}{'ours s':>9}{'mergekit s':>12}{'ratio median':>14}"
              f"{'ratio range':>14}{'ours MiB':>10}{'mergekit MiB':>14}{'mem ratio':>11}"
              f"{'max |diff|':>12}")
        for technique in TECHNIQUES:
            print(_row(technique, dirs, root, python, args.runs), flush=True)


def _runs(technique: str, dirs: list[Path], root: Path, python: str | None,
          runs: int) -> tuple[list, list]:
    """``runs`` timings per tool, the tool going first alternating between runs."""
    ours, theirs = [], []
    for i in range(runs):
        jobs = [(ours, ours_cmd(technique, dirs, root / f"ours-{technique}-{i}"))]
        if python:
            jobs.append((theirs, mergekit_cmd(python, technique, dirs,
                                              root / f"mk-{technique}-{i}")))
        for results, cmd in jobs if i % 2 == 0 else jobs[::-1]:
            results.append(measure(cmd))
    return ours, theirs


def _row(technique: str, dirs: list[Path], root: Path, python: str | None, runs: int) -> str:
    """Both tools' runs for one technique, as one table row."""
    n = TECHNIQUES[technique][1]
    ours, theirs = _runs(technique, dirs[:n], root, python, runs)
    wall = statistics.median(w for w, _ in ours)
    peak = max(m for _, m in ours)
    head = f"{technique:<10}{n:>3}{wall:>9.2f}"
    if not theirs:
        return f"{head}{'-':>12}{'-':>14}{'-':>14}{peak:>10.0f}{'-':>14}{'-':>11}{'-':>12}"
    ratios = [o / t for (o, _), (t, _) in zip(ours, theirs, strict=True)]
    mk_wall = statistics.median(w for w, _ in theirs)
    mk_peak = max(m for _, m in theirs)
    diff = max_abs_diff(root / f"ours-{technique}-0", root / f"mk-{technique}-0")
    spread = f"{min(ratios):.2f}-{max(ratios):.2f}x"
    return (f"{head}{mk_wall:>12.2f}{statistics.median(ratios):>13.2f}x{spread:>14}"
            f"{peak:>10.0f}{mk_peak:>14.0f}{peak / mk_peak:>10.2f}x{diff:>12.2e}")


if __name__ == "__main__":
    main()
