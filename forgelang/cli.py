"""The ``forge`` command line. A thin layer over forgelang.api and runtime.commands.

argparse (not a heavier CLI framework) keeps ``forge plan`` fast to start.
Exit codes: 0 success, 1 invalid recipe / failed run, 2 usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from forgelang import __version__


def _common(p: argparse.ArgumentParser, overrides: bool = True) -> None:
    if overrides:
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V",
                       help="override a value, e.g. --set evomerge.generations=10")
    p.add_argument("--import-root", action="append", default=[], type=Path, metavar="DIR",
                   help="also allow imports from DIR (default: the recipe's folder tree)")


def _workspace(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", type=Path, default=None, metavar="DIR",
                   help="workspace folder (default: $FORGE_WORKSPACE or ./.forge)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="forge", description="Agent Forge: recipes -> models.")
    parser.add_argument("--version", action="version", version=f"forge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = sub.add_parser("validate", help="check recipes and report every problem")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="diagnostics as JSON")
    _common(p)
    p = sub.add_parser("fmt", help="rewrite recipes in the canonical style")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--check", action="store_true", help="exit 1 if a file would change")
    p.add_argument("--diff", action="store_true", help="print a unified diff")
    p = sub.add_parser("plan", help="dry run: the compiled plan with estimates")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", type=Path, metavar="PLAN.json", help="save the plan for apply")
    p.add_argument("--strict", action="store_true", help="over budget is an error")
    _common(p)
    _workspace(p)
    p = sub.add_parser("graph", help="the phase graph as dot or mermaid")
    p.add_argument("file", type=Path)
    p.add_argument("--format", choices=("dot", "mermaid"), default="dot")
    _common(p)
    p = sub.add_parser("schema", help="JSON Schema of recipes")
    p.add_argument("--out", type=Path, metavar="DIR", help="write files into DIR")
    p = sub.add_parser("calibrate", help="measure this machine's throughput for estimates")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--workspace", type=Path, default=None, metavar="DIR",
                   help="keep the profile with this workspace (DIR/calibration.json; plan and "
                        "apply on DIR use it) instead of ~/.config/agent-forge/calibration.json")
    _runtime_commands(sub)
    return parser


def _runtime_commands(sub) -> None:
    p = sub.add_parser(
        "apply", help="run a recipe or a saved plan",
        description="Run a recipe or a saved plan. Progress: a bar per phase on a terminal "
                    "(stage, step, current metric); otherwise a line every "
                    "$FORGE_PROGRESS_INTERVAL seconds (30). Training stages checkpoint every "
                    "$FORGE_CHECKPOINT_INTERVAL seconds (300). Ctrl-C (or SIGTERM) "
                    "checkpoints the phase and stops, a second one stops at once; the same "
                    "command resumes.")
    p.add_argument("target", type=Path, metavar="FILE|PLAN.json")
    p.add_argument("--only", default=None, metavar="PHASE[,PHASE]",
                   help="run only these phases (comma-separated); cached ones are reused, and "
                        "their input phases must have completed in this workspace")
    p.add_argument("--from", dest="from_", default=None, metavar="PHASE",
                   help="run PHASE and every later phase, re-running PHASE and everything "
                        "downstream of it even when cached; earlier phases must have completed")
    p.add_argument("--force", default=None, metavar="PHASE[,PHASE]",
                   help="re-run these phases (comma-separated) and everything downstream of "
                        "them, even when cached")
    p.add_argument("--json", action="store_true", help="stream JSON-lines events")
    _common(p)
    _workspace(p)
    for name, helptext in (("runs", "list runs"), ("models", "list models")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--json", action="store_true")
        _workspace(p)
    p = sub.add_parser("show", help="a run: phases, estimates vs measured, metrics, gates")
    p.add_argument("run", nargs="?", default=None)
    p.add_argument("--json", action="store_true")
    _workspace(p)
    p = sub.add_parser("lineage", help="the ancestry of a model")
    p.add_argument("model")
    p.add_argument("--json", action="store_true")
    _workspace(p)
    _model_commands(sub)
    _report_commands(sub)


MODEL_HELP = ("a registry id, a sha256 prefix, a phase name of the last run, or a model "
              "directory (see `forge models`)")


def _model_commands(sub) -> None:
    p = sub.add_parser("generate", help="a model's answer to a prompt (greedy, tools run)")
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("prompt", metavar="PROMPT")
    p.add_argument("--max-new-tokens", type=int, default=64, metavar="N",
                   help="most tokens the model writes (default 64)")
    p.add_argument("--raw", action="store_true",
                   help="give the prompt as is, without the tokenizer's chat template")
    p.add_argument("--device", default="cpu",
                   help="cpu (default), cuda, cuda:N, mps, or auto (the best one here)")
    p.add_argument("--json", action="store_true", help="answer, input and transcript as JSON")
    _workspace(p)
    p = sub.add_parser("export", help="a model as a standalone transformers directory")
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("out_dir", type=Path, metavar="DIR", help="a new (or empty) directory")
    p.add_argument("--json", action="store_true")
    _workspace(p)


def _report_commands(sub) -> None:
    p = sub.add_parser("report", help="a run as one self-contained HTML page (charts, lineage, "
                                      "gates)")
    p.add_argument("run", nargs="?", default=None, help="run id (default: the newest run)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="where to write it (default: ./report-RUN.html; a directory gets that "
                        "name)")
    _workspace(p)
    p = sub.add_parser("diff", help="two runs side by side: parameters, metrics per phase, "
                                    "models")
    p.add_argument("run_a", metavar="RUN_A")
    p.add_argument("run_b", metavar="RUN_B")
    p.add_argument("--json", action="store_true", help="every figure as JSON")
    _workspace(p)  # run A's workspace, and B's unless --workspace-b
    p.add_argument("--workspace-b", type=Path, default=None, metavar="DIR",
                   help="run B's workspace (default: --workspace)")


# Commands that only read recipes. They run without pydantic plugins: finding plugins
# reads the metadata of every installed distribution (~8 ms of a cold `forge plan` with
# the ~160 distributions of the dev environment), and plugins (validation observers)
# have nothing to observe here. A user who sets PYDANTIC_DISABLE_PLUGINS (even to "")
# keeps their setting.
LANGUAGE_COMMANDS = ("validate", "fmt", "plan", "graph", "schema")
_PLUGINS_ENV = "PYDANTIC_DISABLE_PLUGINS"


@contextmanager
def _without_pydantic_plugins(active: bool):
    """Disable pydantic plugins while the block runs, unless the user chose a setting."""
    if not active or _PLUGINS_ENV in os.environ:
        yield
        return
    os.environ[_PLUGINS_ENV] = "__all__"
    try:
        yield
    finally:
        os.environ.pop(_PLUGINS_ENV, None)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from forgelang import commands  # after parsing: `forge --help` needs none of it

    handler = getattr(commands, f"cmd_{args.command}")
    try:
        with _without_pydantic_plugins(args.command in LANGUAGE_COMMANDS):
            return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
