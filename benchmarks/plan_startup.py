"""Wall time of `forge plan recipes/agent-forge-v2.forge` over a bare `import lark, pydantic`.

Both are run as fresh interpreters, interleaved, N times each, in one run; the
medians and their ratio are printed, for a repeated plan (served by the plan cache)
and for a cold one (FORGE_NO_CACHE=1: parse, validate, estimate). Target (issue 2):
ratio <= 1.5.

lark and pydantic run from the bytecode pip wrote when it installed them, so forgelang
is byte-compiled first as well (``compileall``; an installed package is, and an editable
one writes its __pycache__ on first import). Without that, under PYTHONDONTWRITEBYTECODE=1
every run compiles forgelang's modules from source (~70 ms on the 2-core dev box): ``--no-compile``
measures that case, with whatever bytecode is already there.

    python benchmarks/plan_startup.py [--runs 15] [--recipe recipes/agent-forge-v2.forge]
                                      [--no-compile]
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
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
    ap.add_argument("--no-compile", action="store_true",
                    help="do not byte-compile forgelang first")
    args = ap.parse_args()
    if not args.no_compile:
        compileall.compile_dir(ROOT / "forgelang", quiet=1)
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
    print(f"forgelang modules with current bytecode: {_with_bytecode()}")


def _with_bytecode() -> str:
    """How many forgelang modules import from an up-to-date .pyc (rather than source)."""
    sources = sorted((ROOT / "forgelang").rglob("*.py"))
    fresh = 0
    for src in sources:
        pyc = Path(importlib.util.cache_from_source(str(src)))
        head = pyc.read_bytes()[:12] if pyc.is_file() else b""
        stamp = int(src.stat().st_mtime) & 0xFFFFFFFF  # what the .pyc header records
        fresh += (head[:4] == importlib.util.MAGIC_NUMBER
                  and int.from_bytes(head[8:12], "little") == stamp)
    return f"{fresh} of {len(sources)}"


if __name__ == "__main__":
    main()
