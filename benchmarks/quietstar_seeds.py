"""The quietstar phase on one model over several seeds: the spread of what it measures.

Runs the phase kernel (as `forge apply` would, with the quietstar step's parameters as
``recipes/tiny.forge`` resolves them, presets included, unless ``--recipe`` / ``--set``
change them) on a model directory, once per seed, and prints per seed: accuracy before
and after (thoughts off), the bake's held-out KL before and after, the four anti-theatre
accuracies and answer NLLs, coherence and its parts, the mixing weight and the time.

    python benchmarks/quietstar_seeds.py --model .forge/artifacts/<champion> --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("input_accuracy", "thinker.accuracy", "bake.kl_before", "bake.kl_after",
           "anti_theater.thoughts", "anti_theater.none", "anti_theater.random",
           "anti_theater.shuffled", "anti_theater.nll.thoughts", "anti_theater.nll.none",
           "anti_theater.nll.random", "anti_theater.nll.shuffled", "anti_theater.nll_gain",
           "coherence", "coherence.semantic", "coherence.syntactic", "coherence.predictive",
           "thought.gain", "mixing_weight")


def recipe_params(recipe: Path, overrides: dict) -> dict:
    """The quietstar step's parameters in the compiled plan of ``recipe`` (presets resolved),
    with ``overrides`` (top-level keys) replacing its own."""
    from forgelang.api import compile_plan

    plan = compile_plan(recipe)
    step = next(s for s in plan.steps if s.kind == "quietstar")
    return {**step.params, **overrides}


def run_once(model: Path, params: dict, seed: int) -> dict:
    """One run of the kernel in a scratch directory: its phase metrics and seconds."""
    import runtime.phases  # noqa: F401  (registers the kernels)
    from forgelang.kinds import KINDS
    from runtime.kernels import KERNELS, InputModel, PhaseContext

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "ckpt").mkdir()
        ctx = PhaseContext(run_id="bench", phase="quietstar", kind="quietstar", device="cpu",
                           seed=seed, workspace=root, run_dir=root, checkpoint_dir=root / "ckpt",
                           work_dir=root, stop_event=threading.Event())
        start = time.perf_counter()
        result = KERNELS.get("quietstar").run(ctx, KINDS.get("quietstar").params(**params),
                                              [InputModel(path=model, role="input")])
        return {**result.metrics, "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a model directory")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--recipe", type=Path, default=ROOT / "recipes" / "tiny.forge")
    parser.add_argument("--set", default="{}", help="JSON overrides of the quietstar params")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import torch

    torch.set_num_threads(args.threads)
    params = recipe_params(args.recipe, json.loads(args.set))
    rows = [run_once(args.model, params, seed) for seed in args.seeds]
    print(f"quietstar on {args.model.name[:12]}, seeds {args.seeds}, {args.threads} threads")
    print(f"{'metric':24s}" + "".join(f"{'seed ' + str(s):>10s}" for s in args.seeds)
          + f"{'mean':>10s}{'stdev':>10s}")
    for name in (*COLUMNS, "seconds"):
        values = [row.get(name, float("nan")) for row in rows]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{name:24s}" + "".join(f"{v:10.4f}" for v in values)
              + f"{statistics.mean(values):10.4f}{spread:10.4f}")


if __name__ == "__main__":
    main()
