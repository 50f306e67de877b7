"""Dream consolidation on and off: the curriculum phase run twice per seed, same input.

Runs the ``curriculum`` kernel with the recipe's curriculum parameters (default
``recipes/tiny.forge``, ``--set`` overrides as in ``forge plan``) once with ``dream``
enabled and once disabled, for every ``--seeds`` seed (default: the plan step's own seed),
on the same input model, and prints what each run measured: ``forgetting`` (accuracy drop
between the phase's start and end on the earliest levels trained and the families the
curriculum does not train), its two parts, what was replayed, where the controller
started and ended, and the phase's wall time. The lead measures with a trained input
(``--input``: e.g. the tiny pipeline's bitnet output in the workspace's artifacts); without
one, a randomly initialised tiny Cognate model is used, which only checks that this runs
(its accuracies are all 0, so forgetting is 0 either way).

    python benchmarks/curriculum_dreams.py [--recipe recipes/tiny.forge] [--set K=V]...
        [--input MODEL_DIR] [--seeds 1 2 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SHOWN = ("forgetting", "forgetting.early_levels", "forgetting.other_families", "dream.replayed",
         "edge_level", "level", "tool.accuracy_with_tools", "tool.accuracy_without_tools",
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


def run_phase(params, source: Path, seed: int, root: Path) -> tuple[dict, float]:
    """One run of the kernel in a fresh context: its phase metrics and wall seconds."""
    import runtime.phases.curriculum  # noqa: F401  (registers the kernel)
    from runtime.kernels import KERNELS, InputModel, PhaseContext

    (root / "ckpt").mkdir(parents=True)
    ctx = PhaseContext(run_id="bench", phase="curriculum", kind="curriculum", device="cpu",
                       seed=seed, workspace=root, run_dir=root, checkpoint_dir=root / "ckpt",
                       work_dir=root, stop_event=threading.Event())
    start = time.perf_counter()
    result = KERNELS.get("curriculum").run(ctx, params, [InputModel(path=source, role="input")])
    return result.metrics, time.perf_counter() - start


def print_rows(rows: list[tuple[int, str, dict, float]]) -> None:
    """One line per run, then the dream effect (off - on) per seed."""
    print("seed  dreams  seconds  " + "  ".join(SHOWN))
    for seed, label, metrics, seconds in rows:
        values = "  ".join(f"{metrics.get(k, float('nan')):.4f}" for k in SHOWN)
        print(f"{seed}  {label:6}  {seconds:7.1f}  {values}")
    by_seed: dict[int, dict[str, dict]] = {}
    for seed, label, metrics, _ in rows:
        by_seed.setdefault(seed, {})[label] = metrics
    for seed, pair in by_seed.items():
        less = pair["off"]["forgetting"] - pair["on"]["forgetting"]
        print(f"seed {seed}: forgetting without dreams - with dreams = {less:+.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="recipes/tiny.forge")
    ap.add_argument("--set", action="append", default=[], metavar="K=V")
    ap.add_argument("--input", type=Path, help="the input model directory (default: random tiny)")
    ap.add_argument("--seeds", type=int, nargs="*", help="phase seeds (default: the step's)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    params, step_seed = recipe_params(args.recipe, args.set)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        source = args.input or random_tiny_input(Path(tmp) / "input", step_seed)
        for seed in args.seeds or [step_seed]:
            for label, enabled in (("on", True), ("off", False)):
                run = params.model_copy(update={"dream": params.dream.model_copy(
                    update={"enabled": enabled})})
                metrics, seconds = run_phase(run, source, seed, Path(tmp) / f"{seed}-{label}")
                rows.append((seed, label, metrics, seconds))
    print(f"recipe {args.recipe}, input {args.input or 'random tiny Cognate (checks it runs)'}, "
          f"{args.threads} threads")
    print_rows(rows)


if __name__ == "__main__":
    main()
