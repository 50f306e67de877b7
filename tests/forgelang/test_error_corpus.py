"""The error corpus: every file in tests/forgelang/errors/ is a malformed recipe.

Its first line says which diagnostic must appear: ``# expect: CODE LINE:COL [FILE]``
(FILE, relative to errors/, when the span lies in an imported helper). A second line
``# expect-xfail: reason`` marks a known compiler bug: the case must still fail
(strict xfail), so fixing the bug turns it into an error until the marker is removed.
Helper files under errors/imports/ are imported by cases and are not cases themselves.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from forgelang import api
from forgelang.diagnostics import CODES

ERRORS = Path(__file__).resolve().parent / "errors"
CASES = sorted(ERRORS.glob("*.forge"))
EXPECT = re.compile(r"# expect: (?P<code>[EW]\d{3}) (?P<line>\d+):(?P<col>\d+)(?: (?P<file>\S+))?")
XFAIL = re.compile(r"# expect-xfail: (?P<reason>.+)")
# Pydantic type/choice errors name the allowed values in the message itself.
HINT_OPTIONAL = {"E022", "E025"}


def _header(path: Path) -> tuple[dict, str | None]:
    lines = path.read_bytes().decode("utf-8", "replace").splitlines()
    m = EXPECT.fullmatch(lines[0].strip())
    assert m, f"{path.name}: first line must be `# expect: CODE LINE:COL`"
    x = XFAIL.fullmatch(lines[1].strip()) if len(lines) > 1 else None
    return m.groupdict(), (x["reason"] if x else None)


def test_corpus_is_large_and_covers_the_codes():
    assert len(CASES) >= 45
    codes = {_header(p)[0]["code"] for p in CASES}
    wanted = {"E001", "E002", "E003", "E004", "E010", "E011", "E020", "E021", "E022", "E023",
              "E025", "E030", "E040", "E041", "E042", "E050", "E051", "E060", "E061", "E062",
              "E071", "E080"}
    assert wanted <= codes, sorted(wanted - codes)
    assert codes <= set(CODES)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_error_case(path: Path):
    want, xfail_reason = _header(path)
    file = (ERRORS / want["file"]).resolve() if want["file"] else path.resolve()
    _, diags = api.check(path)
    pos = (want["code"], int(want["line"]), int(want["col"]))
    found = [d for d in diags.items if d.span and (d.code, d.span.line, d.span.col) == pos
             and Path(d.span.file).resolve() == file]
    if xfail_reason:
        if not found:
            pytest.xfail(xfail_reason)
        pytest.fail(f"{path.name} now passes: remove `# expect-xfail` ({xfail_reason})")
    got = [(d.code, d.span.line, d.span.col) if d.span else d.code for d in diags.items]
    assert found, f"{path.name}: want {pos} in {Path(file).name}, got {got}"
    d = found[0]
    rendered = d.render(diags.sources)
    assert rendered.startswith(f"{d.span.file}:{pos[1]}:{pos[2]}: error[{pos[0]}]:"), rendered
    assert "^" in rendered, "the source line with the span underlined is shown"
    assert d.message
    if d.code not in HINT_OPTIONAL:
        assert d.hint, f"{path.name}: {d.code} should carry a hint"
    assert diags.errors, "a malformed recipe has at least one error"
