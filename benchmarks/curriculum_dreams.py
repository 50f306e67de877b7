"""Dream consolidation on and off: the curriculum phase run twice per seed, same input.

Runs the ``curriculum`` kernel with the recipe's curriculum parameters (default
``recipes/tiny.forge``, ``--set`` overrides as in ``forge plan``) once with ``dream``
enabled and once disabled, for every ``--seeds`` seed (default: the plan step's own seed),
on the same input model, and prints what each run measured: ``forgetting`` (accuracy drop
between the phase's start and end on the earliest levels trained and the families the
curriculum does not train), its two parts, what was replayed, where the controller
started and ended, the level trajectory (the level of every new batch, as runs:
``1x4 2x3`` = four batches at level 1, then three at level 2), tool use with and without
the calculator, rule adherence before and after the bakes, and the phase's wall time;
then every metric's mean and standard deviation over the seeds, per dreams setting. Give
it a trained input (``--input``: e.g. the tiny pipeline's bitnet output in the workspace's
artifacts); without one, a randomly initialised tiny Cognate model is used, which only
checks that this runs (its accuracies are all 0, so forgetting is 0 either way).

    python benchmarks/curriculum_dreams.py [--recipe recipes/tiny.forge] [--set K=V]...
        [--input MODEL_DIR] [--seeds 0 1 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SHOWN = ("forgetting", "forgetting.early_levels", "forgetting.other_families", "dream.replayed",
         "dream.accuracy", "edge_level", "level", "level.moves", "level.mean",
         "rolling_accuracy", "tool.validity", "tool.correctness", "tool.calls",
         "tool.accuracy_with_tools", "tool.accuracy_without_tools",
         "eudaimonia.adherence_before", "eudaimonia.adherence_after", "input_accuracy",
         "curriculum.accuracy")


def recipe_params(recipe: str, overrides: list[str]):
    """The curriculum step's parameters and seed in the compiled plan of ``recipe``."""
    from forgelang.api import compile_plan
    from forgelang.kinds.curriculum import CurriculumParams

    plan = compile_plan(recipe, overrides=overrides)
    step = next(s for s in plan.steps if s.kind == "curriculum")
    return CurriculumParams.model_validate(step.params), step.seed


def random_tiny_input(root: Path, seed: int) -> Path:
    """A randomly initialised tiny Cognate model with the suite tokenizer, saved in ``root``."""
    import torch

    from forgelang.kinds.cognate import CognateParams
    from runtime.data import build_tokenizer
    from runtime.nn import TrmTitansMagForCausalLM
    from runtime.phases.cognate import model_config

    params = CognateParams(architecture="tiny")
    torch.manual_seed(seed)
    TrmTitansMagForCausalLM(model_config(params)).save_pretrained(root)
    build_tokenizer(params.architecture.vocab_size, seed).save_pretrained(root)
    return root


def run_phase(params, source: Path, seed: int, root: Path) -> tuple[dict, float, dict]:
    """One run of the kernel in a fresh context: its phase metrics, wall seconds and its
    ``level`` and ``rolling_accuracy`` curves (name -> {step: value}; new batches only)."""
    from runtime.kernels import KERNELS, InputModel, PhaseContext

    curves: dict[str, dict[int, float]] = {"level": {}, "rolling_accuracy": {}}

    def sink(name: str, value: float, step: int | None, _model: int | None) -> None:
        if name in curves and step is not None:
            curves[name][step] = value

    (root / "ckpt").mkdir(parents=True)
    ctx = PhaseContext(run_id="bench", phase="curriculum", kind="curriculum", device="cpu",
                       seed=seed, workspace=root, run_dir=root, checkpoint_dir=root / "ckpt",
                       work_dir=root, metric_sink=sink, stop_event=threading.Event())
    start = time.perf_counter()
    result = KERNELS.get("curriculum").run(ctx, params, [InputModel(path=source, role="input")])
    return result.metrics, time.perf_counter() - start, curves


def runs_text(levels: list[int]) -> str:
    """``[1, 1, 2]`` as ``1x2 2x1``: each level with the number of batches in a row at it."""
    parts: list[list[int]] = []
    for level in levels:
        if parts and parts[-1][0] == level:
            parts[-1][1] += 1
        else:
            parts.append([level, 1])
    return " ".join(f"{level}x{count}" for level, count in parts) or "-"


def shown_names(rows: list[tuple]) -> list[str]:
    """``SHOWN``, then every ``forgetting.<family>`` and ``level.<k>.start`` / ``.end``."""
    measured = {name for row in rows for name in row[2]}
    extra = sorted(n for n in measured - set(SHOWN) if n.startswith("forgetting."))
    per_level = sorted((n for n in measured if n.startswith("level.") and n.count(".") == 2),
                       key=lambda n: (n.split(".")[2] == "end", int(n.split(".")[1])))
    return [*SHOWN, *extra, *per_level]


def print_rows(rows: list[tuple[int, str, dict, float, dict]]) -> None:
    """Per run: its seconds, level trajectory and rolling accuracies; the shown metrics
    per run and, per dreams setting, their mean and standard deviation over the seeds;
    then the dream effect (forgetting off - on) per seed."""
    for seed, label, _, seconds, curves in rows:
        levels = [int(v) for _, v in sorted(curves["level"].items())]
        rolling = " ".join(f"{v:.2f}" for _, v in sorted(curves["rolling_accuracy"].items()))
        print(f"seed {seed}, dreams {label}: {seconds:.1f} s, levels per batch "
              f"{runs_text(levels)}; rolling accuracy per batch {rolling}")
    labels = sorted({label for _, label, *_ in rows}, reverse=True)
    print(f"{'metric':30s}" + "".join(f"{f'{s} {lab}':>10s}" for s, lab, *_ in rows)
          + "".join(f"{'mean ' + lab:>18s}" for lab in labels))
    for name in shown_names(rows):
        cells = [r[2].get(name, float("nan")) for r in rows]
        line = f"{name:30s}" + "".join(f"{v:10.4f}" for v in cells)
        for lab in labels:
            vals = [r[2][name] for r in rows if r[1] == lab and name in r[2]]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            line += f"{statistics.fmean(vals):>10.4f} ±{sd:6.4f}" if vals else f"{'-':>18s}"
        print(line)
    by_seed: dict[int, dict[str, dict]] = {}
    for seed, label, metrics, *_ in rows:
        by_seed.setdefault(seed, {})[label] = metrics
    for seed, pair in by_seed.items():
        if {"on", "off"} <= pair.keys():
            less = pair["off"]["forgetting"] - pair["on"]["forgetting"]
            print(f"seed {seed}: forgetting without dreams - with dreams = {less:+.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="recipes/tiny.forge")
    ap.add_argument("--set", action="append", default=[], metavar="K=V")
    ap.add_argument("--input", type=Path, help="the input model directory (default: random tiny)")
    ap.add_argument("--seeds", type=int, nargs="*", help="phase seeds (default: the step's)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dreams", choices=("both", "on", "off"), default="both",
                    help="run with dreams on, off, or both (default)")
    args = ap.parse_args()
    import torch

    import runtime.phases.curriculum  # noqa: F401  (registers the kernel)

    torch.set_num_threads(args.threads)
    params, step_seed = recipe_params(args.recipe, args.set)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        source = args.input or random_tiny_input(Path(tmp) / "input", step_seed)
        for seed in args.seeds or [step_seed]:
            for label, enabled in (("on", True), ("off", False)):
                if args.dreams not in ("both", label):
                    continue
                run = params.model_copy(update={"dream": params.dream.model_copy(
                    update={"enabled": enabled})})
                rows.append((seed, label, *run_phase(run, source, seed,
                                                     Path(tmp) / f"{seed}-{label}")))
    print(f"recipe {args.recipe}, input {args.input or 'random tiny Cognate (checks it runs)'}, "
          f"{args.threads} threads")
    print_rows(rows)


if __name__ == "__main__":
    main()
