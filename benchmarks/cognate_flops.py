"""Achieved training FLOP/s of the Cognate model as a fraction of this machine's fp32
matmul peak, both measured in this run.

Training FLOPs per step come from the planner's cost model (forgelang.kinds.costs: the
same 6*N*tokens-with-recursion arithmetic `forge plan` uses); the step time is measured
on random token batches with MuGrokfast. Target (issue 4): >= 35% of peak.

    python benchmarks/cognate_flops.py [--preset tiny] [--batch 8] [--seq-len 96] [--steps 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _planned_flops_per_step(preset: str, batch: int, seq_len: int) -> tuple[float, int]:
    from forgelang.kinds import costs
    from forgelang.kinds.cognate import output_spec
    from forgelang.kinds.cognate_arch import arch_from

    spec = output_spec(arch_from(preset))
    cost = costs.cost_of(spec)
    return cost.train_flops_per_token(seq_len) * batch * seq_len, spec.params


def _step_seconds(preset: str, batch: int, seq_len: int, steps: int) -> float:
    import torch

    from runtime.nn import TrmTitansMagForCausalLM, preset_config
    from runtime.optim import MuGrokfast

    torch.manual_seed(0)
    model = TrmTitansMagForCausalLM(preset_config(preset))
    opt = MuGrokfast.from_config(model, {"muon_lr": 1e-3, "adam_lr": 3e-4})
    ids = torch.randint(4, model.config.vocab_size, (batch, seq_len))
    times = []
    for _ in range(steps + 1):  # the first step warms up and is not counted
        t0 = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t0)
    return sorted(times[1:])[len(times[1:]) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny", choices=("smoke", "tiny", "full"))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=96)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    from runtime.calibrate import measure

    peak = measure("cpu").peak_flops
    flops, params = _planned_flops_per_step(args.preset, args.batch, args.seq_len)
    seconds = _step_seconds(args.preset, args.batch, args.seq_len, args.steps)
    achieved = flops / seconds
    print(f"model: cognate `{args.preset}`, {params:,} params; batch {args.batch} x {args.seq_len}")
    print(f"fp32 matmul peak (measured now): {peak / 1e9:.1f} GFLOP/s")
    print(f"training step: median {seconds:.3f} s for {flops:.3e} FLOPs (cost model)")
    print(f"achieved: {achieved / 1e9:.2f} GFLOP/s = {achieved / peak:.1%} of peak (target >= 35%)")


if __name__ == "__main__":
    main()
