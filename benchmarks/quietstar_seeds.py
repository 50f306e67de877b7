"""The quietstar phase on one model over several seeds: the spread of what it measures.

Runs the phase kernel (as `forge apply` would, with the tiny recipe's quietstar settings
unless ``--set`` changes them) on a model directory, once per seed, and prints per seed:
accuracy before and after (thoughts off), the bake's held-out KL before and after, the
four anti-theatre accuracies, coherence and its parts, the mixing weight and the time.

    python benchmarks/quietstar_seeds.py --model .forge/artifacts/<champion> --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

TINY = dict(thought_tokens=4, thoughts_per_position=2, steps=6, batch_size=2, seq_len=32,
            levels=[1, 2], bake={"steps": 10, "trajectories": 8, "batch_size": 4},
            anti_theater={"examples": 16}, optimizer="mugrokfast_rl",
            eval={"examples": 24, "max_new_tokens": 12, "batch_size": 24, "levels": [1, 2]})
COLUMNS = ("input_accuracy", "thinker.accuracy", "bake.kl_before", "bake.kl_after",
           "anti_theater.thoughts", "anti_theater.none", "anti_theater.random",
           "anti_theater.shuffled", "coherence", "coherence.semantic", "coherence.syntactic",
           "coherence.predictive", "thought.gain", "mixing_weight")


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
    parser.add_argument("--set", default="{}", help="JSON overrides of the quietstar params")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    params = {**TINY, **json.loads(args.set)}
    rows = [run_once(args.model, params, seed) for seed in args.seeds]
    print(f"quietstar on {args.model.name[:12]}, seeds {args.seeds}, {args.threads} threads")
    print(f"{'metric':24s}" + "".join(f"{'seed ' + str(s):>10s}" for s in args.seeds)
          + f"{'mean':>10s}{'stdev':>10s}")
    for name in (*COLUMNS, "seconds"):
        values = [row[name] for row in rows]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{name:24s}" + "".join(f"{v:10.4f}" for v in values)
              + f"{statistics.mean(values):10.4f}{spread:10.4f}")


if __name__ == "__main__":
    main()
