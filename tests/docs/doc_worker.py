"""Run documented examples, one document after another, in one process (torch is imported
once): ``python -m tests.docs.doc_worker BLOCKS.json RESULTS.jsonl FOLDER``.

Each document gets a working folder holding a copy of recipes/; its blocks run there in
the order written, so a later block sees what an earlier one made (a plan, a workspace).
``forge`` blocks are checked (``forgelang.api.check``: no errors) or formatted;
``python`` blocks are executed; ``bash`` blocks run their ``forge`` command lines
in-process (``forgelang.cli.main``) at smoke scale (``smoke_args``), skip install and
test-suite lines (.ci/run runs those) and refuse anything else; ``json`` blocks are
parsed line by line. One JSON line per block is appended to RESULTS as it finishes.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import shutil
import sys
import time
import traceback
from pathlib import Path

from tests.docs.doc_blocks import ROOT
from tests.docs.doc_forge import ForgeExampleFailed, check_forge_block
from tests.docs.doc_setups import SETUPS, save_model

# A doc's `forge apply` runs the first phase of the smoke recipe at this scale (seconds).
SMOKE_SETS = ("cognate.pretrain_steps=2", "cognate.steps=1", "cognate.eval.examples=4",
              "cognate.eval.max_new_tokens=2")
SMOKE_RECIPES = {"recipes/tiny.forge": "recipes/smoke.forge",
                 "recipes/agent-forge-v2.forge": "recipes/agent-forge-v2.forge"}
INSTALL = ("pip", "python -m pip")
TEST_SUITE = ("python -m pytest", "pytest")


class ExampleFailed(Exception):
    """A block did not do what its document says."""


def smoke_args(args: list[str]) -> list[str]:
    """A documented ``forge`` command at smoke scale: ``recipes/tiny.forge`` becomes
    ``recipes/smoke.forge``; ``apply`` runs only the first phase (``--only cognate``) with
    ``SMOKE_SETS``, and ``plan --out`` saves a plan with them (so its apply is small too)."""
    args = [SMOKE_RECIPES.get(a, a) for a in args]
    sets = [x for s in SMOKE_SETS for x in ("--set", s)]
    if args[:1] == ["apply"]:
        if any(a.endswith(".forge") for a in args[1:]):
            args += sets
        if "--only" not in args:
            args += ["--only", "cognate"]
    elif args[:1] == ["plan"] and "--out" in args:
        args += sets
    return args


def run_forge_cli(args: list[str]) -> None:
    """``forge ARGS`` in this process; ExampleFailed unless it exits 0."""
    from forgelang.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as e:  # argparse usage errors
            code = e.code if isinstance(e.code, int) else 2
    if code != 0:
        tail = (out.getvalue() + err.getvalue())[-1500:]
        raise ExampleFailed(f"`forge {shlex.join(args)}` exited {code}:\n{tail}")


def bash_commands(code: str) -> list[str]:
    """The commands of a bash block: continuation lines joined, comments dropped, ``&&``
    chains split."""
    joined = code.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        command = []
        for word in words + ["&&"]:
            if word == "&&":
                out.append(shlex.join(command))
                command = []
            else:
                command.append(word)
    return [c for c in out if c]


def run_bash(block: dict, folder: Path) -> list[str]:
    """Run a bash block's commands; returns the lines skipped, with the reason."""
    skipped = []
    for command in bash_commands(block["code"]):
        if command.startswith(INSTALL):
            skipped.append(f"{command}: an install line (.ci/run installs)")
        elif command.startswith(TEST_SUITE):
            skipped.append(f"{command}: the test suite itself (.ci/run runs it)")
        elif command.split()[0] == "forge":
            run_forge_cli(smoke_args(shlex.split(command)[1:]))
        else:
            raise ExampleFailed(f"`{command}`: only forge, pip and pytest lines run; mark the "
                                'block <!-- example: skip="why" --> or change it')
    return skipped


NAMESPACES: dict[str, dict] = {}  # document -> the names its last python block left


def run_python(block: dict, folder: Path) -> list[str]:
    """Execute a python block with ``folder`` as the working folder, in a fresh namespace
    holding its setup's names, or (``continues``) in the previous python block's."""
    if "continues" in block["markers"]:
        namespace = NAMESPACES.get(block["doc"], {"__name__": "__main__"})
    else:
        namespace = {"__name__": "__main__", **block.get("names", {})}
    NAMESPACES[block["doc"]] = namespace
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block["code"], block["id"], "exec"), namespace)  # noqa: S102 (our docs)
    return []


def run_json(block: dict, folder: Path) -> list[str]:
    """Each non-empty line of a json block is one JSON value (a JSONL example)."""
    for n, line in enumerate(block["code"].splitlines(), 1):
        if line.strip():
            try:
                json.loads(line)
            except ValueError as e:
                raise ExampleFailed(f"line {n} is not JSON: {e}") from None
    return []


def run_forge_block(block: dict, folder: Path) -> list[str]:
    check_forge_block(block, folder)
    return []


RUNNERS = {"forge": run_forge_block, "python": run_python, "bash": run_bash, "json": run_json}


def run_block(block: dict, folder: Path) -> dict:
    """One block's result: status passed | failed, detail, skipped lines, seconds."""
    start, skipped = time.perf_counter(), []
    os.chdir(folder)
    try:
        for spec in block["markers"].get("models", "").split():
            directory, _, kind = spec.partition("=")
            save_model(folder / directory, kind or "cognate")
        setup = block["markers"].get("setup")
        if setup:
            if setup not in SETUPS:
                raise ExampleFailed(f"unknown setup {setup!r}: one of {sorted(SETUPS)}")
            block = {**block, "names": SETUPS[setup](folder)}
        skipped = RUNNERS[block["lang"]](block, folder)
        status, detail = "passed", ""
    except (ExampleFailed, ForgeExampleFailed) as e:
        status, detail = "failed", str(e)
    except BaseException as e:  # noqa: BLE001 (an example's own error is its result)
        if isinstance(e, KeyboardInterrupt):
            raise
        status, detail = "failed", "".join(traceback.format_exception(e))[-3000:]
    finally:
        os.chdir(ROOT)
    return {"id": block["id"], "status": status, "detail": detail, "skipped_lines": skipped,
            "seconds": round(time.perf_counter() - start, 2)}


def doc_folder(base: Path, doc: str) -> Path:
    """A document's working folder, with a copy of recipes/ (and of recipes/shared/, for
    forge blocks written there)."""
    folder = base / doc.replace("/", "_").removesuffix(".md")
    if not folder.exists():
        shutil.copytree(ROOT / "recipes", folder / "recipes")
        shutil.copytree(ROOT / "recipes" / "shared", folder / "shared")
    return folder


def main(blocks_file: str, results_file: str, base: str) -> int:
    blocks = json.loads(Path(blocks_file).read_text())
    with open(results_file, "a", encoding="utf-8") as results:
        for block in blocks:
            result = run_block(block, doc_folder(Path(base), block["doc"]))
            results.write(json.dumps(result) + "\n")
            results.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
