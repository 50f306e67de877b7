"""Every fenced example in README.md and docs/*.md runs, so a doc cannot drift from the code.

How blocks are marked and run: tests/docs/doc_blocks.py (markers), doc_forge.py (forge
blocks), doc_worker.py (python and bash blocks, smoke scale), doc_setups.py (what an
example may assume). The runnable blocks of all documents run in one worker process
(torch is imported once); each block is one test here. Blocks that are not run are
skipped with their reason, and ``test_blocks_not_run_are_listed`` prints them all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.docs.doc_blocks import ROOT, all_blocks, fence_problem
from tests.subprocess_env import repo_pythonpath

BLOCKS = all_blocks()
WORKER_TIMEOUT_S = 600


def _runnable(blocks) -> list[dict]:
    """The blocks the worker runs, in document order, each with the block after it."""
    out = []
    for block, after in zip(blocks, blocks[1:] + [None], strict=True):
        if fence_problem(block) or block.skip_reason():
            continue
        out.append({"doc": block.doc, "line": block.line, "id": block.id, "lang": block.lang,
                    "code": block.code, "markers": block.markers,
                    "next_code": after.code if after is not None else None})
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    """Run every runnable block once; block id -> result."""
    base = tmp_path_factory.mktemp("doc-examples")
    blocks_file, results_file = base / "blocks.json", base / "results.jsonl"
    blocks_file.write_text(json.dumps(_runnable(BLOCKS)))
    env = {**os.environ, "PYTHONPATH": repo_pythonpath(), "FORGE_THREADS": "1",
           "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled", "WANDB_SILENT": "true"}
    env.pop("FORGE_WORKSPACE", None)
    done = subprocess.run([sys.executable, "-m", "tests.docs.doc_worker", str(blocks_file),
                           str(results_file), str(base / "docs")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
    lines = results_file.read_text().splitlines() if results_file.exists() else []
    found = {r["id"]: r for r in map(json.loads, lines)}
    found["__worker__"] = {"returncode": done.returncode, "stderr": done.stderr[-3000:]}
    return found


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_doc_example(block, results):
    problem = fence_problem(block)
    assert problem is None, f"{block.id}: {problem}"
    reason = block.skip_reason()
    if reason:
        pytest.skip(f"{block.id}: {reason}")
    result = results.get(block.id)
    assert result is not None, f"{block.id}: the worker never finished it: {results['__worker__']}"
    for line in result["skipped_lines"]:
        print(f"{block.id}: not run: {line}")
    assert result["status"] == "passed", f"{block.id} ({block.lang}):\n{result['detail']}"


def test_blocks_not_run_are_listed(capsys):
    """Every block that is not run says why (printed: run with -s to read the list)."""
    listed = [(b.id, b.lang, b.skip_reason()) for b in BLOCKS if b.skip_reason()]
    with capsys.disabled():
        print(f"\n{len(listed)} of {len(BLOCKS)} documented blocks are not run:")
        for block_id, lang, reason in listed:
            print(f"  {block_id} [{lang}]: {reason}")
    assert all(reason and reason != "skipped without a reason" for _, _, reason in listed)


def test_every_document_is_read():
    docs = {b.doc for b in BLOCKS}
    assert {"README.md", "docs/language.md", "docs/runtime.md"} <= docs
    assert len(BLOCKS) >= 30
