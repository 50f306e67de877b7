"""The code a phase kernel runs, as a fingerprint in its steps' cache keys.

A workspace must never serve results that older code computed as if the new code had.
So a step's cache key holds, besides its kind's ``version``, a sha256 of the source of
every module its kernel can run: the kernel's package ``runtime/phases/<kind>/`` and,
transitively, every ``runtime`` or ``forgelang`` module that code names, in an import
statement (at the top of a file or inside a function) or as a dotted string (a lazy
``importlib.import_module("runtime.data.tokenizer")``). Change one line of that code and
the kind's steps re-run; change another kind's kernel and they stay cached.

What it does not see: third-party libraries (torch, transformers: pin them to keep
results), and a parent package's ``__init__`` that no import names (importing
``runtime.phases.cognate`` runs ``runtime/phases/__init__.py``, which only registers the
kernels). Stdlib only, torch-free, and read once per process (about 100 small files).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from functools import cache, lru_cache
from pathlib import Path

ROOTS = ("runtime", "forgelang")  # the packages whose modules count as kernel code
_DOTTED = r"(?:runtime|forgelang)(?:\.\w+)*"
_FROM = re.compile(rf"^[ \t]*from[ \t]+({_DOTTED})[ \t]+import[ \t]+(\([^)]*\)|[^\n#]+)", re.M)
_IMPORT = re.compile(rf"^[ \t]*import[ \t]+({_DOTTED})", re.M)
_STRING = re.compile(rf"[\"']({_DOTTED})[\"']")
NO_KERNEL = "none"  # the fingerprint of a kind whose kernel package does not exist


@cache
def _root_dir(package: str) -> Path | None:
    """Where a top-level package lives, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).resolve()


@lru_cache(maxsize=1)
def module_index() -> dict[str, str]:
    """Dotted module name -> source file, for every module of ``ROOTS`` (one directory walk)."""
    index: dict[str, str] = {}
    for top in ROOTS:
        root = _root_dir(top)
        if root is None:
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d.isidentifier()]  # skips __pycache__ too
            parts = [top, *Path(folder).relative_to(root).parts]
            for name in files:
                if name.endswith(".py"):
                    stem = name[:-3]
                    dotted = ".".join(parts if stem == "__init__" else [*parts, stem])
                    index[dotted] = os.path.join(folder, name)
    return index


def module_file(name: str) -> str | None:
    """The source file of module ``name`` (``a.b`` -> ``a/b.py`` or ``a/b/__init__.py``)."""
    return module_index().get(name)


@cache
def named_modules(path: str) -> frozenset[str]:
    """Every runtime/forgelang module the file ``path`` names: ``from m import a`` names
    ``m.a`` when that is a submodule, else ``m`` (whose ``__init__`` defines ``a``)."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
    names = set(_IMPORT.findall(source)) | set(_STRING.findall(source))
    for module, imported in _FROM.findall(source):
        for item in imported.strip("() \n").split(","):
            word = item.strip().split(" as ")[0].strip()
            if not word.isidentifier():
                continue
            sub = f"{module}.{word}"
            names.add(sub if module_file(sub) is not None else module)
    return frozenset(n for n in names if module_file(n) is not None)


def code_closure(start: list[str]) -> list[str]:
    """``start`` and every module file reachable from it through named modules, sorted."""
    seen: set[str] = set()
    todo = list(start)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(module_file(name) for name in _with_packages(named_modules(path)))
    return sorted(seen)


def _with_packages(names: frozenset[str]) -> set[str]:
    """``names`` and the packages above each: importing ``a.b.c`` runs the ``__init__`` of
    ``a`` and of ``a.b`` first, so their code (and what they import) runs too."""
    out = set(names)
    for name in names:
        parts = name.split(".")
        out |= {".".join(parts[:k]) for k in range(1, len(parts))}
    return {n for n in out if module_file(n) is not None}


def kernel_files(kind: str) -> list[str]:
    """The source files of ``runtime/phases/<kind>/`` (empty when the kind has no kernel)."""
    prefix = f"runtime.phases.{kind}"
    return sorted(f for name, f in module_index().items()
                  if name == prefix or name.startswith(prefix + "."))


@cache
def kernel_fingerprint(kind: str) -> str:
    """sha256 (16 hex digits) of the code ``kind``'s kernel runs; ``NO_KERNEL`` without one."""
    start = kernel_files(kind)
    if not start:
        return NO_KERNEL
    names = {f: n for n, f in module_index().items()}
    digest = hashlib.sha256()
    for path in code_closure(start):
        with open(path, "rb") as f:
            digest.update(f"{names[path]}\0".encode() + f.read() + b"\0")
    return digest.hexdigest()[:16]


def kernel_version(kind: str, version: str) -> str:
    """A step's ``kernel_version``: the kind's declared version and its code fingerprint."""
    return f"{version}+{kernel_fingerprint(kind)}"
