"""The baking phase on one model, per seed: what every iteration measured, and the cost.

Runs the phase kernel as `forge apply` would, with recipes/tiny.forge's resolved baking
params (``--set`` overrides them), on a model directory, once per seed, and prints per
iteration: cycle, score, KL to the input, the bake's held-out KL before and after and the
persona chosen; then the phase's metrics, its wall seconds and peak RSS beside the plan's
estimate for the same params and input shape; then, over the seeds, each iteration's
score and KL and every phase metric shown, per seed with their mean and standard deviation.

    python benchmarks/baking_tiny.py --model .forge/artifacts/<thinker> --seeds 0 1 2
    python benchmarks/baking_tiny.py --model .forge/artifacts/<bitnet output> --seeds 0

``--ternarize`` first stores the model ternary without fine-tuning (plain absmean codes,
8-bit activations), for a quick look at a ternary input; the pipeline's input is the
bitnet phase's (STE-trained) output.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOWN = ("input_accuracy", "baked.accuracy", "a_cycle.final_score", "b_cycle.final_score",
         "kl", "iterations", "plateau.stopped", "requantization.float_accuracy",
         "requantization.float_tool_score", "requantization.float_persona_score",
         "requantization.kl")


def recipe_step(overrides: dict):
    """The tiny recipe's baking params (validated, with ``overrides``) and the plan's
    estimates of its input: ``(params, float input spec, ternary input spec, device)``."""
    from forgelang import api
    from forgelang.devices import DeviceProfile
    from forgelang.kinds.baking import BakingParams

    plan = api.compile_plan(ROOT / "recipes" / "tiny.forge")
    steps = {step.kind: step for step in plan.steps}
    params = BakingParams.model_validate({**steps["baking"].params, **overrides})
    return (params, steps["quietstar"].estimate.outputs[0],
            steps["bitnet"].estimate.outputs[0], DeviceProfile(**plan.target))


def ternarized(model_dir: Path, out: Path) -> Path:
    """``model_dir`` stored ternary (absmean codes, 8-bit activations), no fine-tuning."""
    from runtime.formats.ternary import save_ternary
    from runtime.phases.toolkit.inputs import load_model, load_tokenizer

    return save_ternary(load_model(model_dir, "cpu"), load_tokenizer(model_dir), out,
                        activation_bits=8)


def run_once(model: Path, params, seed: int) -> tuple[dict, list, float, int, int]:
    """One run in a scratch directory: phase metrics, iteration records, seconds, peak RSS
    and its growth above the RSS at the start."""
    from runtime.kernels import InputModel, PhaseContext
    from runtime.measure import PhaseMeter
    from runtime.phases.baking import BakingKernel

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "ckpt").mkdir()
        ctx = PhaseContext(run_id="bench", phase="baking", kind="baking", device="cpu",
                           seed=seed, workspace=root, run_dir=root, checkpoint_dir=root / "ckpt",
                           work_dir=root, stop_event=threading.Event())
        with PhaseMeter("cpu") as meter:
            result = BakingKernel().run(ctx, params, [InputModel(path=model, role="input")])
        saved = json.loads((result.models[0].path / "personas.json").read_text())
    return (result.metrics, saved["iterations"], meter.seconds, meter.peak_memory_bytes,
            meter.above_start_bytes)


def show(seed: int, metrics: dict, iterations: list, seconds: float, peak: int,
         growth: int) -> None:
    """Print one run."""
    print(f"seed {seed}: {seconds:.1f} s, peak RSS {peak / 2**20:.0f} MiB "
          f"({growth / 2**20:.0f} MiB above the start)")
    for it in iterations:
        persona = f"  persona {it['persona']!r} (baseline {it['baseline']:.3f})" \
            if it["cycle"] == "b" else f"  tool calls/episode {it['tool']['calls']:.2f}"
        print(f"  {it['number']} {it['cycle'].upper()} score {it['score']:.3f} "
              f"kl {it['kl']:.5f} bake kl {it['bake']['bake.kl_before']:.5f} -> "
              f"{it['bake']['bake.kl_after']:.5f}{persona}")
    print("  " + "  ".join(f"{k} {metrics[k]:.4f}" for k in SHOWN if k in metrics))


def iteration_values(iterations: list) -> dict[str, float]:
    """``it<n>.<cycle>.score``, ``.kl`` (and ``.baseline`` for B) of every iteration."""
    out = {}
    for it in iterations:
        key = f"it{it['number']}.{it['cycle']}"
        out[f"{key}.score"], out[f"{key}.kl"] = it["score"], it["kl"]
        if it["cycle"] == "b":
            out[f"{key}.baseline"] = it["baseline"]
    return out


def show_summary(seeds: list[int], runs: list[dict[str, float]]) -> None:
    """Every value measured, per seed, with the mean and standard deviation over seeds."""
    names = [n for n in runs[0] if all(n in r for r in runs)]
    print(f"{'over seeds':34s}" + "".join(f"{'seed ' + str(s):>10s}" for s in seeds)
          + f"{'mean':>10s}{'sd':>9s}")
    for name in names:
        values = [r[name] for r in runs]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{name:34s}" + "".join(f"{v:10.4f}" for v in values)
              + f"{statistics.fmean(values):10.4f}{sd:9.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a model directory")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", default="{}", help="JSON overrides of the baking params")
    parser.add_argument("--ternarize", action="store_true", help="store the input ternary first")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    from forgelang.kinds.baking import estimate
    from forgelang.kinds.base import EstimateContext

    torch.set_num_threads(args.threads)
    params, float_spec, ternary_spec, device = recipe_step(json.loads(args.set))
    with tempfile.TemporaryDirectory() as scratch:
        model = ternarized(args.model, Path(scratch) / "t") if args.ternarize else args.model
        ternary = args.ternarize or "quantization_config" in (model / "config.json").read_text()
        spec = ternary_spec if ternary else float_spec
        planned = estimate(params, EstimateContext(device, (spec,)))
        print(f"estimate ({'ternary' if ternary else 'float'} input): {planned.seconds:.1f} s, "
              f"{planned.peak_memory_bytes / 2**20:.0f} MiB")
        runs = []
        for seed in args.seeds:
            metrics, iterations, *cost = run_once(model, params, seed)
            show(seed, metrics, iterations, *cost)
            runs.append({**iteration_values(iterations),
                         **{k: metrics[k] for k in SHOWN if k in metrics}})
    show_summary(args.seeds, runs)


if __name__ == "__main__":
    main()
