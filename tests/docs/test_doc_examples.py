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
           "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled", "WANDB_SILENT": "true",
           "FORGE_CALIBRATION": str(base / "calibration.json"),  # never the user's files
           "FORGE_CACHE_DIR": str(base / "plans")}
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


def test_blocks_markers_and_fences_are_read(tmp_path, monkeypatch):
    import tests.docs.doc_blocks as doc_blocks

    monkeypatch.setattr(doc_blocks, "ROOT", tmp_path)
    page = tmp_path / "page.md"
    page.write_text('x\n\n<!-- example: skip="too slow" -->\n```python\nprint(1)\n```\n\n'
                    "```\nplain\n```\n\n- item:\n  ```hcl\n  phase cognate { }\n  ```\n")
    slow, plain, indented = doc_blocks.extract(page)
    assert (slow.line, slow.lang, slow.code, slow.skip_reason()) == (4, "python", "print(1)\n",
                                                                      "too slow")
    assert "no language" in fence_problem(plain)
    assert indented.code == "phase cognate { }\n" and "```forge" in fence_problem(indented)


def test_fragments_are_wrapped_in_a_minimal_recipe():
    from tests.docs.doc_forge import ForgeExampleFailed, as_recipe

    gate = as_recipe("gate quietstar {\n  coherence > 0\n}\n", None)
    assert gate.startswith("forge 1") and "phase cognate { models = 1" in gate
    assert gate.index("phase quietstar { }") < gate.index("gate quietstar")
    assert as_recipe("forge 1\nrecipe \"x\" { }\n", None) == "forge 1\nrecipe \"x\" { }\n"
    assert "phase evomerge {\nfitness = 1\n}" in as_recipe("fitness = 1\n", "phase evomerge")
    with pytest.raises(ForgeExampleFailed, match="inside="):
        as_recipe("fitness = 1\n", None)


def test_bash_lines_run_at_smoke_scale():
    from tests.docs.doc_worker import SMOKE_SETS, bash_commands, smoke_args

    assert bash_commands("pip install x && forge apply a.forge  # go\n\n# note\nforge runs\n") \
        == ["pip install x", "forge apply a.forge", "forge runs"]
    applied = smoke_args(["apply", "recipes/tiny.forge"])
    assert applied[:2] == ["apply", "recipes/smoke.forge"] and applied[-2:] == ["--only", "cognate"]
    assert all(s in applied for s in SMOKE_SETS)
    assert smoke_args(["apply", "plan.json", "--only", "evomerge"]) == \
        ["apply", "plan.json", "--only", "evomerge"]
    assert smoke_args(["validate", "recipes/tiny.forge"]) == ["validate", "recipes/smoke.forge"]
