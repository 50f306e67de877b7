"""Check a documented forge block: a whole recipe, a fragment, or a formatting example.

A block whose first statement is ``forge N`` is a recipe: it is written into the
document's working folder (which holds ``shared/`` from recipes/, so ``import
"shared/..."`` resolves, and where ``./a`` names what python blocks call ``./a``) and must
compile and plan with no errors. A fragment (statements without the header) is put after
a minimal header (``recipe "doc-example" { seed = 0 }``, a one-model cognate phase when
the fragment has no cognate phase and no ``inputs``, so its phases get an input model, and an
empty ``phase K { }`` for each ``gate K`` on a phase it does not declare); a fragment of block items needs
``<!-- example: inside="phase evomerge" -->`` and is wrapped in that block first.
``fmt-before`` blocks must format to the block that follows; ``fmt-after`` blocks must be
canonical already.
"""

from __future__ import annotations

import re
from pathlib import Path

STATEMENT = re.compile(r"^(forge|import|let|recipe|preset|phase|gate)\b")
GATE = re.compile(r"^gate\s+(\w+)", re.M)
PHASE = re.compile(r"^phase\s+(\w+)(?:\s+as\s+(\w+))?", re.M)
FRAGMENT_HEADER = 'forge 1\n\nrecipe "doc-example" {\n  seed = 0\n}\n\n'
ONE_MODEL = "phase cognate { models = 1  roles = [general] }\n"


class ForgeExampleFailed(Exception):
    """The block does not check, format or parse as its document says."""


def _statements(code: str) -> list[str]:
    """Code lines that are not blank or comments."""
    return [x for x in code.splitlines() if x.strip() and not x.lstrip().startswith("#")]


def as_recipe(code: str, inside: str | None) -> str:
    """The recipe the block stands for (itself when it has the ``forge N`` header)."""
    lines = _statements(code)
    if lines and lines[0].startswith("forge "):
        return code
    if inside:
        code = f"{inside} {{\n{code}}}\n"
    elif lines and not STATEMENT.match(lines[0]):
        raise ForgeExampleFailed('a fragment of block items: say where it goes with '
                                 '<!-- example: inside="phase KIND" -->')
    declared = {m[2] or m[1] for m in PHASE.finditer(code)}
    missing = [k for k in dict.fromkeys(GATE.findall(code)) if k not in declared]
    first = "" if "cognate" in declared or "inputs" in code else ONE_MODEL
    phases = first + "".join(f"phase {k} {{ }}\n" for k in missing)
    return FRAGMENT_HEADER + phases + code


def check_forge_block(block: dict, folder: Path) -> None:
    """Raise ForgeExampleFailed unless the block does what its markers say."""
    from forgelang import api
    from forgelang.diagnostics import DiagnosticError
    from forgelang.fmt import format_text

    markers, code = block["markers"], block["code"]
    if "fmt-before" in markers or "fmt-after" in markers:
        want = block.get("next_code") if "fmt-before" in markers else code
        try:
            got = format_text(code)
        except DiagnosticError as e:
            raise ForgeExampleFailed(f"does not parse:\n{e}") from None
        if got != want:
            raise ForgeExampleFailed(f"`forge fmt` gives:\n{got}\nnot:\n{want}")
        return
    text = as_recipe(code, markers.get("inside"))
    path = folder / f"doc_example_{block['line']}.forge"
    path.write_text(text, encoding="utf-8")
    _, diags = api.check(path)
    if diags.errors:
        numbered = "\n".join(f"{n:3} | {x}" for n, x in enumerate(text.splitlines(), 1))
        found = "\n".join(d.render() for d in diags.sorted() if d.severity == "error")
        raise ForgeExampleFailed(f"{found}\nin the recipe checked:\n{numbered}")
