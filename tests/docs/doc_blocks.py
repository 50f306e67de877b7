"""Fenced code blocks of README.md and docs/*.md, with the markers that say how to run them.

A marker is an HTML comment on the line just before the fence (invisible when rendered):

    <!-- example: reference -->              a listing (signatures, pseudocode, formats): not run
    <!-- example: output -->                 what a command printed: not run
    <!-- example: skip="why" -->             not run, for the reason given (e.g. minutes of work)
    <!-- example: setup=smoke-model -->      run first (tests/docs/doc_setups.py); python gets names
    <!-- example: continues -->              python: goes on in the previous python block's names
    <!-- example: models="a=cognate b=llama" -->  seeded smoke models saved in these folders first
    <!-- example: inside="phase evomerge" --> forge: items of that block (wrapped before checking)
    <!-- example: fmt-before -->             forge: `forge fmt` turns it into the next block
    <!-- example: fmt-after -->              forge: already canonical (fmt leaves it unchanged)

Every block needs a language: ``forge``, ``python``, ``bash``, ``json`` or ``text`` (a
``text`` block must say ``reference`` or ``output``), so nothing is skipped silently.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[^`\s]*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*example:(?P<body>.*?)-->\s*$")
RUNNABLE = {"forge", "python", "bash", "json"}
NOT_RUN = {"reference": "a reference listing (signatures, pseudocode or formats), not code",
           "output": "printed output of a run, not code"}


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its text and its markers."""

    doc: str  # path relative to the repository, e.g. "docs/language.md"
    line: int  # the fence's line (1-based)
    lang: str
    code: str
    markers: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"

    def skip_reason(self) -> str | None:
        """Why this block is not run (None: it is run)."""
        if "skip" in self.markers:
            return self.markers["skip"] or "skipped without a reason"
        for key, reason in NOT_RUN.items():
            if key in self.markers:
                return reason
        return None


def documents() -> list[Path]:
    """README.md and every docs/*.md."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def parse_markers(line: str) -> dict:
    """``<!-- example: a b=c d="e f" -->`` -> {"a": "", "b": "c", "d": "e f"}."""
    m = MARKER.match(line)
    if not m:
        return {}
    out = {}
    for word in shlex.split(m["body"]):
        key, _, value = word.partition("=")
        out[key.strip()] = value
    return out


def extract(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").split("\n")
    doc = path.relative_to(ROOT).as_posix()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
        if end is None:
            raise ValueError(f"{doc}:{i + 1}: fence is never closed")
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        indent = len(m["indent"])
        code = "\n".join(x[indent:] for x in lines[i + 1:end]) + "\n"
        blocks.append(Block(doc, i + 1, m["lang"], code, parse_markers(previous)))
        i = end + 1
    return blocks


def all_blocks() -> list[Block]:
    """Every block of every document."""
    return [b for path in documents() for b in extract(path)]


def fence_problem(block: Block) -> str | None:
    """Why a block's fence or markers are not acceptable (None when they are)."""
    if block.lang == "":
        return "the fence has no language: write ```forge, python, bash, json or text"
    if block.lang == "hcl":
        return "forge-language is fenced ```forge, not ```hcl"
    if block.lang == "text":
        if not (set(block.markers) & {*NOT_RUN, "skip"}):
            return "a ```text block needs <!-- example: reference --> or output before it"
        return None
    if block.lang not in RUNNABLE:
        return f"unknown fence language {block.lang!r}: use forge, python, bash, json or text"
    if "skip" in block.markers and not block.markers["skip"]:
        return 'skip needs a reason: <!-- example: skip="why" -->'
    return None
