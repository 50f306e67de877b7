"""Wall time of `forge plan recipes/agent-forge-v2.forge` over a bare `import lark, pydantic`.

Both are run as fresh interpreters, interleaved, N times each, in one run; the
medians and their ratio are printed, for a repeated plan (served by the plan cache)
and for a cold one (FORGE_NO_CACHE=1: parse, validate, estimate). Target (issue 2):
ratio <= 1.5.

    python benchmarks/plan_startup.py [--runs 15] [--recipe recipes/agent-forge-v2.forge]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _time(cmd: list[str], env: dict | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT,
                   env={**os.environ, **(env or {})})
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--recipe", default="recipes/agent-forge-v2.forge")
    args = ap.parse_args()
    bare = [sys.executable, "-c", "import lark, pydantic"]
    plan = [sys.executable, "-m", "forgelang.cli", "plan", args.recipe]
    _time(plan)  # warm the parser cache and the OS file cache once
    a, b, c = [], [], []
    for _ in range(args.runs):
        a.append(_time(bare))
        b.append(_time(plan))
        c.append(_time(plan, {"FORGE_NO_CACHE": "1"}))
    check = subprocess.run([sys.executable, "-c", "import sys; import forgelang.commands, "
                            "forgelang.api; print(int(any(m in sys.modules for m in "
                            "('torch','transformers'))))"], capture_output=True, text=True,
                           cwd=ROOT)
    base, ours = statistics.median(a), statistics.median(b)
    print(f"bare `import lark, pydantic`: median {base * 1000:.0f} ms over {args.runs} runs")
    print(f"`forge plan {args.recipe}`: median {ours * 1000:.0f} ms over {args.runs} runs")
    print(f"ratio: {ours / base:.2f}x (target <= 1.5x) -- recipe unchanged, plan cache hit")
    cold = statistics.median(c)
    print(f"cold (FORGE_NO_CACHE=1, full compile): median {cold * 1000:.0f} ms, "
          f"ratio {cold / base:.2f}x")
    print(f"torch/transformers imported by the plan path: {'yes' if check.stdout.strip() == '1' else 'no'}")


if __name__ == "__main__":
    main()
