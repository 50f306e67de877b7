"""The fixed cost of `forge apply`: a one-phase merge recipe beside the merge it performs.

Builds two small Llama-style models locally (a seeded random init and a perturbed copy,
saved with ``save_pretrained``, no tokenizer: the merge is not measured on the task suite,
so the apply does only the merge), then times, as fresh child processes, alternating
``--runs`` times:

- (a) ``python -c pass``: interpreter start-up;
- (b) ``import`` of the modules an apply of a merge loads (``IMPORTS``, without W&B);
- (c) the same merge done directly through the merge library (``merge_directories``);
- (d) ``forge apply`` of a one-phase ``mode = merge`` recipe into a fresh workspace,
  W&B offline (the default tracking);
- (e) the same apply with ``tracking { wandb = disabled }``.

Printed: each median, and the fixed cost of an apply, (d) - (c) and (e) - (c), as
seconds and as multiples of (a) and (b). ``--baseline DIR`` adds (f): (d) run from another
checkout (e.g. ``git archive OLD | tar -x -C DIR``), to see a change before and after side
by side in one run. (c) and (d) must write the same merged weights:
the script checks that their ``model.safetensors`` files are byte-identical.
``--profile`` also runs (d) once under ``python -X importtime`` (the slowest top-level
imports) and once under cProfile (where the apply's wall time goes, by runtime step).

Figures taken while other jobs share the machine are only comparable within one run
(every command runs in turn, alternating): compare columns side by side, not with
figures from another run.

    python benchmarks/apply_fixed_cost.py [--runs 5] [--tiny] [--profile] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# ~5M parameters (fp32, ~20 MB a model): the merge itself takes well under a second
CONFIG = dict(vocab_size=4096, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
              num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
              tie_word_embeddings=False)
TINY = dict(CONFIG, vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=2, num_key_value_heads=2)
WEIGHTS = (0.5, 0.5)
# What an apply of a merge recipe loads besides W&B: the CLI, the compiler, the
# orchestrator, the evomerge kernel and the merge library
IMPORTS = ("forgelang.cli", "forgelang.commands", "forgelang.api", "runtime.commands",
           "runtime.orchestrator", "runtime.phases.evomerge", "runtime.merge")
ENV = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "OMP_NUM_THREADS": "1",
       "MKL_NUM_THREADS": "1"}
RECIPE = """forge 1

recipe "fixed-cost" {{
  seed = 0
  device = cpu
  tracking {{ wandb = {tracking} }}
}}

phase evomerge as merged {{
  inputs = ["./a", "./b"]
  mode = merge
  base = first
  merge {{
    technique = linear
    weights = [{w0}, {w1}]
  }}
}}
"""


def build_models(root: Path, config: dict) -> tuple[list[Path], int]:
    """A seeded Llama and a perturbed copy in ``root/a``, ``root/b``; their parameter count."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**config))
    n_params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(root / "a")
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=gen))
    model.save_pretrained(root / "b")
    return [root / "a", root / "b"], n_params


def write_recipes(root: Path) -> dict[str, Path]:
    """The merge recipe with W&B offline and with tracking disabled, beside the models."""
    paths = {}
    for tracking in ("offline", "disabled"):
        path = root / f"merge-{tracking}.forge"
        path.write_text(RECIPE.format(tracking=tracking, w0=WEIGHTS[0], w1=WEIGHTS[1]),
                        encoding="utf-8")
        paths[tracking] = path
    return paths


def merge_cmd(dirs: list[Path], out: Path) -> list[str]:
    """A child process doing the recipe's merge through the merge library."""
    request = {"technique": "linear", "weights": list(WEIGHTS), "base": "first"}
    code = ("import sys, json; from runtime.merge import MergeRequest, merge_directories; "
            "merge_directories(MergeRequest.from_json(json.loads(sys.argv[1])), "
            "sys.argv[2:-1], sys.argv[-1])")
    return [sys.executable, "-c", code, json.dumps(request), *map(str, dirs), str(out)]


def apply_cmd(recipe: Path, workspace: Path, *python_flags: str) -> list[str]:
    """A child process running ``forge apply`` of ``recipe`` in ``workspace``."""
    return [sys.executable, *python_flags, "-m", "forgelang.cli", "apply", str(recipe),
            "--workspace", str(workspace)]


def run_child(cmd: list[str], cwd: Path = ROOT) -> tuple[float, str]:
    """Wall seconds of one child process, and its stderr; a failure stops the benchmark."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, env={**os.environ, **ENV})
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])} ... failed ({done.returncode}):\n"
                           f"{done.stderr[-3000:]}")
    return wall, done.stderr


def commands(root: Path, dirs: list[Path], recipes: dict[str, Path], i: int,
             baseline: Path | None = None) -> dict:
    """The timed commands of repetition ``i`` (fresh outputs and workspaces), each with
    the checkout it runs from."""
    jobs = {"a": ([sys.executable, "-c", "pass"], ROOT),
            "b": ([sys.executable, "-c", "import " + ", ".join(IMPORTS)], ROOT),
            "c": (merge_cmd(dirs, root / f"merge-{i}"), ROOT),
            "d": (apply_cmd(recipes["offline"], root / f"ws-offline-{i}"), ROOT),
            "e": (apply_cmd(recipes["disabled"], root / f"ws-disabled-{i}"), ROOT)}
    if baseline is not None:
        jobs["f"] = (apply_cmd(recipes["offline"], root / f"ws-baseline-{i}"), baseline)
    return jobs


def time_all(root: Path, dirs: list[Path], recipes: dict[str, Path], runs: int,
             baseline: Path | None = None) -> dict:
    """``runs`` wall times per command, the order of the commands alternating per run."""
    times: dict[str, list[float]] = {}
    for i in range(runs):
        jobs = list(commands(root, dirs, recipes, i, baseline).items())
        for name, (cmd, cwd) in jobs if i % 2 == 0 else jobs[::-1]:
            times.setdefault(name, []).append(run_child(cmd, cwd)[0])
    return times


def same_weights(root: Path) -> bool:
    """Whether the library's merge and the apply's stored model have identical weights."""
    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    stored = list((root / "ws-offline-0" / "artifacts").glob("*/model.safetensors"))
    return len(stored) == 1 and digest(stored[0]) == digest(root / "merge-0" /
                                                            "model.safetensors")


def report(times: dict) -> None:
    """Each command's median, and the fixed cost of an apply in seconds and ratios."""
    labels = {"a": "python -c pass", "b": "import of what apply loads (no W&B)",
              "c": "merge through the library", "d": "forge apply, W&B offline",
              "e": "forge apply, tracking disabled", "f": "(d) from the --baseline checkout"}
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, label in labels.items():
        if k not in times:
            continue
        spread = f"{min(times[k]):.2f}-{max(times[k]):.2f}"
        print(f"({k}) {label:<38} median {med[k]:6.2f} s  (range {spread} s)")
    for k, label in (("d", "W&B offline"), ("e", "tracking disabled")):
        fixed = med[k] - med["c"]
        print(f"fixed cost of an apply, {label:<18} ({k})-(c) = {fixed:5.2f} s = "
              f"{fixed / med['a']:5.1f}x (a) = {fixed / med['b']:4.2f}x (b)")
    print(f"W&B offline over disabled: (d)-(e) = {med['d'] - med['e']:.2f} s")
    if "f" in med:
        ratios = [d / f for d, f in zip(times["d"], times["f"], strict=True)]
        print(f"this checkout's apply over the baseline's: (d)-(f) = {med['d'] - med['f']:+.2f} "
              f"s, per-run ratios {min(ratios):.2f}-{max(ratios):.2f}")


IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)")


def import_profile(stderr: str, top: int = 15) -> None:
    """The slowest imports an apply makes (``-X importtime``): top-level ones by cumulative
    time, and every package's own (self) time summed over its modules."""
    entries, per_package = [], {}
    for line in stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if not match:
            continue
        own, cumulative, indent, name = match.groups()
        package = name.split(".")[0]
        per_package[package] = per_package.get(package, 0) + int(own)
        if not indent:  # a top-level import
            entries.append((int(cumulative), name))
    print(f"\nimports of one apply (-X importtime): {sum(per_package.values()) / 1e6:.2f} s "
          "in all; slowest top-level imports (cumulative):")
    for cumulative, name in sorted(entries, reverse=True)[:top]:
        print(f"  {cumulative / 1e6:6.2f} s  {name}")
    print("own import time per package:")
    for package, own in sorted(per_package.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {own / 1e6:6.2f} s  {package}")


def call_profile(stats_file: Path, top: int = 25) -> None:
    """Where one apply's wall time goes (cProfile): the project's functions and W&B's
    ``init``/``finish`` by cumulative time, and the time spent importing."""
    import pstats

    stats = pstats.Stats(str(stats_file)).stats
    rows = []
    for (file, line, func), (_, _, _, cumulative, _) in stats.items():
        ours = file.startswith(str(ROOT)) and "/benchmarks/" not in file
        wandb_call = "wandb" in file and func in ("init", "finish") and "sdk" in file
        if ours or wandb_call:
            rows.append((cumulative, f"{Path(file).relative_to(ROOT) if ours else file}"
                                     f":{line}({func})"))
        elif func == "_find_and_load":
            rows.append((cumulative, "all imports (importlib _find_and_load)"))
    print("\nwall time of one apply by function (cProfile, cumulative):")
    for cumulative, name in sorted(rows, reverse=True)[:top]:
        print(f"  {cumulative:6.2f} s  {name}")


def profile(root: Path, recipes: dict[str, Path]) -> None:
    """One apply under ``-X importtime`` and one under cProfile, W&B offline."""
    _, stderr = run_child(apply_cmd(recipes["offline"], root / "ws-importtime", "-X",
                                    "importtime"))
    import_profile(stderr)
    stats = root / "apply.prof"
    run_child([sys.executable, "-m", "cProfile", "-o", str(stats), "-m", "forgelang.cli",
               "apply", str(recipes["offline"]), "--workspace", str(root / "ws-cprofile")])
    call_profile(stats)


def main() -> None:
    """Build the models and recipes, time the five commands, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tiny", action="store_true", help="tiny models: check the script")
    parser.add_argument("--profile", action="store_true",
                        help="also profile one apply (imports and calls)")
    parser.add_argument("--baseline", type=Path, default=None, metavar="DIR",
                        help="also time the apply from this checkout (before a change)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="apply-fixed-cost-") as tmp:
        root = Path(tmp)
        dirs, n_params = build_models(root, TINY if args.tiny else CONFIG)
        recipes = write_recipes(root)
        print(f"inputs: 2 Llama dirs, {n_params / 1e6:.2f}M parameters each (fp32), linear "
              f"merge; {args.runs} runs per command, order alternating; "
              f"cpus={os.cpu_count()}")
        run_child(*commands(root, dirs, recipes, -1)["d"])  # warm the OS file cache once
        times = time_all(root, dirs, recipes, args.runs, args.baseline)
        report(times)
        print("library merge and apply wrote identical weights:",
              "yes" if same_weights(root) else "NO")
        if args.profile:
            profile(root, recipes)


if __name__ == "__main__":
    main()
