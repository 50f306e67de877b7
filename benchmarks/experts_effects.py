"""What the experts phase measurably does to a model, over seeds.

Runs the ``experts`` kernel on a model directory (e.g. the tiny pipeline's baking output,
or any artifact in a workspace) once per seed, with the experts step's parameters as
``recipes/tiny.forge`` resolves them (``--recipe``, ``--steps`` change them), and prints
per seed and as mean ± standard deviation over the seeds:

- each expert against the base on its own skill (``own_gain``) and on the other skills;
- the chosen mix against the base, overall (greedy generation on the held-out set) and
  per skill (teacher-forced greedy exact match);
- the Pareto front's size and spread, the mix's weights, the prompt classifier's accuracy;
- for a ternary input, the accuracy of the float mix and what storing it ternary cost.

    python benchmarks/experts_effects.py MODEL_DIR --seeds 0 1 2 --threads 1

Nothing is written outside a temporary directory. Timings are not printed: use
``forge apply`` on a quiet machine for the phase's wall time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOWN = ("input_accuracy", "chosen.accuracy", "skill.base_mean", "chosen.skill_mean",
         "classification.accuracy", "pareto.size", "pareto.distinct", "pareto.spread.accuracy",
         "pareto.spread.retention", "mixing.best_accuracy", "mixing.base_accuracy")


def recipe_params(recipe: Path, svf_steps: int | None) -> dict:
    """The experts step's parameters in the compiled plan of ``recipe`` (presets resolved);
    ``svf_steps`` replaces ``svf.steps`` when given."""
    from forgelang.api import compile_plan

    plan = compile_plan(recipe)
    params = dict(next(s for s in plan.steps if s.kind == "experts").params)
    if svf_steps:
        params["svf"] = {**params.get("svf", {}), "steps": svf_steps}
    return params


def run_once(model_dir: Path, seed: int, params: dict) -> dict[str, float]:
    """The phase metrics of one run of the kernel with ``seed``."""
    import torch

    import runtime.phases.experts  # noqa: F401
    from forgelang.kinds.experts import ExpertsParams
    from runtime.kernels import KERNELS, InputModel, PhaseContext

    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "ckpt").mkdir()
        ctx = PhaseContext(run_id="bench", phase="experts", kind="experts", device="cpu",
                           seed=seed, workspace=root, run_dir=root, checkpoint_dir=root / "ckpt",
                           work_dir=root, stop_event=threading.Event())
        result = KERNELS.get("experts").run(ctx, ExpertsParams(**params),
                                            [InputModel(model_dir, "input")])
    return dict(result.metrics)


def summary_rows(runs: list[dict[str, float]]) -> list[tuple[str, list[float]]]:
    """(metric, value per seed) for the shown metrics, then experts, chosen mix and base per
    skill, the chosen weights and the ternary cost."""
    names = [n for n in SHOWN if all(n in r for r in runs)]
    prefixes = ("expert.", "chosen.skill.", "nsga2.chosen.weight.", "ternary.")
    extra = {n for r in runs for n in r
             if n.startswith(prefixes) or (n.startswith("skill.") and n.endswith(".base"))}
    names += sorted(extra - set(names))
    return [(n, [r.get(n) for r in runs]) for n in names]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--recipe", type=Path, default=ROOT / "recipes" / "tiny.forge")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=None,
                        help="SVF steps (default: the recipe's)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import torch

    torch.set_num_threads(args.threads)
    params = recipe_params(args.recipe, args.steps)
    runs = [run_once(args.model_dir.resolve(), seed, params) for seed in args.seeds]
    print(f"{'metric':44s} " + " ".join(f"seed {s:>4d}" for s in args.seeds) + "   mean ± sd")
    for name, values in summary_rows(runs):  # None: not measured with that seed
        there = [v for v in values if v is not None]
        sd = statistics.stdev(there) if len(there) > 1 else 0.0
        cells = " ".join(f"{v:9.4f}" if v is not None else f"{'-':>9s}" for v in values)
        print(f"{name:44s} {cells}   {statistics.fmean(there):.4f} ± {sd:.4f}")


if __name__ == "__main__":
    main()
