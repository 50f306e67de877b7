"""How close `forge plan` comes to what `forge apply` measures, cold and with history.

For each recipe, in a fresh workspace and with a fresh calibration (FORGE_CALIBRATION in
a temporary directory, so the user's own is untouched):

1. `forge calibrate` (cpu);
2. `forge plan --json`: the cold estimate, from the cost model alone;
3. `forge apply`: run 1, measured;
4. `forge plan --json` again: the forecast corrected by run 1 (forgelang.history);
5. `forge apply --force <every phase>`: run 2, measured.

It prints, per phase, cold estimate ÷ run 1 and forecast ÷ run 2, for time and peak
memory, and whether the issue-20 goals hold (cold: time within 25%, memory within 10%;
with history: time within 10%). Run it on a quiet machine: other load moves the times.

    python benchmarks/estimate_accuracy.py [--recipe recipes/smoke.forge ...] [--only P,Q]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"cold_time": 0.25, "cold_memory": 0.10, "history_time": 0.10}


def forge(args: list[str], env: dict) -> str:
    done = subprocess.run([sys.executable, "-m", "forgelang.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"forge {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def planned(recipe: str, ws: Path, env: dict, only: list[str]) -> dict[str, dict]:
    plan = json.loads(forge(["plan", recipe, "--workspace", str(ws), "--json"], env))
    return {p["name"]: p.get("forecast") or {"seconds": p["estimate"]["seconds"],
                                             "peak_memory_bytes": p["estimate"]
                                             ["peak_memory_bytes"]}
            for p in plan["phases"] if not only or p["name"] in only}


def measured(ws: Path, env: dict) -> dict[str, dict]:
    shown = json.loads(forge(["show", "--workspace", str(ws), "--json"], env))
    return {p["name"]: p["measured"] for p in shown["phases"] if p["status"] == "completed"}


def ratios(plan: dict, got: dict) -> dict[str, tuple[float, float]]:
    return {name: (plan[name]["seconds"] / got[name]["seconds"],
                   plan[name]["peak_memory_bytes"] / got[name]["peak_memory_bytes"])
            for name in plan if name in got and got[name]["seconds"]}


def one_recipe(recipe: str, only: list[str], keep: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        tmp = scratch
        if keep:  # keep the workspace and calibration, one folder per recipe
            tmp = str(Path(keep) / Path(recipe).stem)
            Path(tmp).mkdir(parents=True, exist_ok=False)
        env = {**os.environ, "FORGE_CALIBRATION": str(Path(tmp) / "calibration.json"),
               "FORGE_NO_CACHE": "1", "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
        ws = Path(tmp) / "ws"
        forge(["calibrate"], env)
        select = ["--only", ",".join(only)] if only else []
        cold = planned(recipe, ws, env, only)
        forge(["apply", recipe, "--workspace", str(ws), *select], env)
        first = measured(ws, env)
        warm = planned(recipe, ws, env, only)
        forge(["apply", recipe, "--workspace", str(ws), *select, "--force", ",".join(warm)],
              env)
        second = measured(ws, env)
    report(recipe, ratios(cold, first), ratios(warm, second))


def report(recipe: str, cold: dict, warm: dict) -> None:
    print(f"\n{recipe}: estimate / measured (1.00 = exact)")
    print(f"  {'phase':<12} {'cold time':>9} {'cold mem':>9} {'history time':>13} "
          f"{'history mem':>12}  goals")
    for name in cold:
        ct, cm = cold[name]
        wt, wm = warm.get(name, (float("nan"), float("nan")))
        met = (abs(ct - 1) <= GOALS["cold_time"], abs(cm - 1) <= GOALS["cold_memory"],
               abs(wt - 1) <= GOALS["history_time"])
        flags = " ".join(f"{k}:{'met' if ok else 'MISSED'}" for k, ok in zip(GOALS, met, strict=True))
        print(f"  {name:<12} {ct:9.2f} {cm:9.2f} {wt:13.2f} {wm:12.2f}  {flags}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", action="append", default=None)
    p.add_argument("--only", default="", help="phases to run, comma-separated")
    p.add_argument("--keep", metavar="DIR", help="keep each recipe's workspace in DIR/<recipe>")
    args = p.parse_args()
    only = [s for s in args.only.split(",") if s]
    for recipe in args.recipe or ["recipes/smoke.forge", "recipes/tiny.forge"]:
        one_recipe(recipe, only, args.keep)


if __name__ == "__main__":
    main()
