"""The Cognate model's code, saved beside exported weights for ``trust_remote_code=True``.

Custom architectures are shared on model hubs as a directory holding the weights, a
``config.json`` whose ``auto_map`` names a configuration and a modeling file, and those
files (plus what they import, by relative imports). This module copies the model's source
files from ``runtime/nn`` (and the few other ``runtime`` modules they import), rewrites
every ``from runtime.x.y import ...`` into ``from .y import ...``, and checks that nothing
imports this package any more: the directory then loads where only transformers and torch
are installed.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import runtime

PACKAGE_ROOT = Path(runtime.__file__).resolve().parent.parent
CONFIG_MODULE = "runtime.nn.config"
MODEL_MODULE = "runtime.nn.model"
CONFIG_CLASS = "TrmTitansMagConfig"
MODEL_CLASS = "TrmTitansMagForCausalLM"
# the file names hub users expect for the two entry points
ENTRY_FILES = {CONFIG_MODULE: "configuration_trm_titans_mag",
               MODEL_MODULE: "modeling_trm_titans_mag"}
OWN_PACKAGES = ("runtime", "forgelang")
_FROM_IMPORT = re.compile(r"^(\s*)from\s+(runtime(?:\.\w+)+)\s+import\b", re.MULTILINE)


class RemoteCodeError(RuntimeError):
    """The model's code cannot be made self-contained (a bug in this package's layout)."""


def _source(module: str) -> Path:
    path = PACKAGE_ROOT.joinpath(*module.split(".")).with_suffix(".py")
    if not path.is_file():
        raise RemoteCodeError(f"{module} is not a module file ({path})")
    return path


def _own_imports(tree: ast.AST) -> list[str]:
    """Modules of this package that ``tree`` imports (at any depth: lazy imports too)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in OWN_PACKAGES:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in OWN_PACKAGES]
    return found


def module_closure() -> dict[str, str]:
    """Every module the model and its config need, mapped to its file name in the export."""
    names: dict[str, str] = {}
    pending = [CONFIG_MODULE, MODEL_MODULE]
    while pending:
        module = pending.pop()
        if module in names:
            continue
        name = ENTRY_FILES.get(module, module.rsplit(".", 1)[-1])
        if name in names.values():
            raise RemoteCodeError(f"two modules would both be saved as {name}.py")
        names[module] = name
        pending += _own_imports(ast.parse(_source(module).read_text(encoding="utf-8")))
    return names


def self_contained(module: str, names: dict[str, str]) -> str:
    """The source of ``module`` with its imports of this package made relative."""
    text = _source(module).read_text(encoding="utf-8")

    def relative(match: re.Match) -> str:
        target = match.group(2)
        if target not in names:
            raise RemoteCodeError(f"{module} imports {target}, which is not exported")
        return f"{match.group(1)}from .{names[target]} import"

    text = _FROM_IMPORT.sub(relative, text)
    left = _own_imports(ast.parse(text))
    if left:
        raise RemoteCodeError(f"{module} still imports {', '.join(left)} after the rewrite "
                              "(only `from runtime.x import ...` is rewritten)")
    origin = _source(module).relative_to(PACKAGE_ROOT).as_posix()
    return (f"# Copied from Agent Forge's {origin} for trust_remote_code; imports of the\n"
            f"# package were made relative to this directory.\n{text}")


def write_remote_code(out_dir: Path) -> list[str]:
    """Write the model's code into ``out_dir`` and point ``config.json``'s ``auto_map`` at it.

    Returns:
        The file names written.
    """
    names = module_closure()
    written = []
    for module, name in sorted(names.items(), key=lambda item: item[1]):
        (out_dir / f"{name}.py").write_text(self_contained(module, names), encoding="utf-8")
        written.append(f"{name}.py")
    config_path = out_dir / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["auto_map"] = {
        "AutoConfig": f"{names[CONFIG_MODULE]}.{CONFIG_CLASS}",
        "AutoModelForCausalLM": f"{names[MODEL_MODULE]}.{MODEL_CLASS}",
    }
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return written
