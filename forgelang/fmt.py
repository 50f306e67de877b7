"""``forge fmt``: rewrite .forge files in the one canonical style (docs/fmt.md).

There are no options, as with ``gofmt`` and ``terraform fmt``. Formatting never
changes meaning: the formatted text parses to an AST equal to the original one and
keeps every comment; ``format_text`` checks both before it returns.
"""

from __future__ import annotations

import difflib
import io
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from forgelang import ast
from forgelang.diagnostics import DiagnosticError
from forgelang.fmt_comments import attach_comments
from forgelang.fmt_render import Printer
from forgelang.loader import parse_bounded
from forgelang.parser import parse_text, read_source
from forgelang.source import display_path

EXIT_OK, EXIT_CHANGED, EXIT_USAGE = 0, 1, 2


class FormatterBug(RuntimeError):
    """The formatter produced text that changes the recipe: a bug in fmt, not in the file."""


def format_module(module: ast.Module) -> str:
    """Render a parsed module in canonical style, with its comments.

    Args:
        module: a module from ``parse_text``; its spans and comments place the comments
            and decide where the user's blank lines and multi-line blocks are kept.

    Returns:
        The formatted text, ending with one newline ("" for an empty module).
    """
    return Printer(attach_comments(module)).module(module)


def format_text(text: str, path: str = "<string>") -> str:
    """Format recipe text.

    Args:
        text: the source of a .forge file.
        path: the file name shown in diagnostics.

    Returns:
        The canonical text; ``format_text`` of it returns it unchanged.

    Raises:
        DiagnosticError: the text does not parse (nothing is formatted).
        FormatterBug: the result would parse differently or lose a comment.
    """
    module = parse_bounded(text, path)
    out = format_module(module)
    _check_same(module, out, path)
    return out


def _check_same(module: ast.Module, out: str, path: str) -> None:
    """Refuse output that would change the recipe (black's "safe" mode, always on)."""
    try:
        again = parse_text(out, path)
    except DiagnosticError as e:
        raise FormatterBug(f"fmt produced text that does not parse:\n{e.render()}") from None
    if again != module:
        raise FormatterBug(f"fmt changed the meaning of {path}; please report this")
    if Counter(c.text for c in again.comments) != Counter(c.text for c in module.comments):
        raise FormatterBug(f"fmt lost or duplicated a comment in {path}; please report this")


# ----------------------------------------------------------------- files
def fmt_files(paths: Iterable[str | Path], check: bool = False, diff: bool = False) -> int:
    """Format files in place (what ``forge fmt`` runs).

    Args:
        paths: files and folders (folders are searched for ``*.forge`` files, skipping
            hidden folders such as ``.forge`` and ``.git``); ``-`` reads stdin and writes
            the result to stdout. No paths means the current folder.
        check: write nothing; only report the files that are not formatted.
        diff: print a unified diff of each change.

    Returns:
        0 when nothing had to change (or every change was written), 1 with ``check``
        when a file is not formatted, 2 when a path is missing or a file cannot be
        read or does not parse (its diagnostics go to stderr).
    """
    targets = [str(p) for p in paths] or ["."]
    files, missing = _collect(targets)
    for name in missing:
        print(f"error: no such file or folder: {name}", file=sys.stderr)
    status = EXIT_USAGE if missing else EXIT_OK
    for file in files:
        status = max(status, _fmt_one(file, check, diff))
    return status


def _collect(targets: list[str]) -> tuple[list[Path | None], list[str]]:
    """Files to format (None stands for stdin) and the targets that do not exist."""
    files: list[Path | None] = []
    missing = []
    for target in targets:
        path = Path(target)
        if target == "-":
            files.append(None)
        elif path.is_dir():
            files += sorted(f for f in path.rglob("*.forge") if f.is_file()
                            and not any(p.startswith(".") for p in f.relative_to(path).parts))
        elif path.is_file():
            files.append(path)
        else:
            missing.append(target)
    return files, missing


def _fmt_one(file: Path | None, check: bool, diff: bool) -> int:
    shown = "<stdin>" if file is None else display_path(file)
    try:
        original = sys.stdin.read() if file is None else _read(file, shown)
        formatted = format_text(original.removeprefix("\ufeff"), shown)
    except DiagnosticError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_USAGE
    if file is None and not check and not diff:
        sys.stdout.write(formatted)
        return EXIT_OK
    if formatted == original:
        return EXIT_OK
    print(shown)
    if diff:
        sys.stdout.write(unified_diff(original, formatted, shown))
    if check:
        return EXIT_CHANGED
    if file is not None:
        _write_atomic(file, formatted)
    return EXIT_OK


def _read(file: Path, shown: str) -> str:
    """The file's exact text (read_source checks size and UTF-8; it drops a BOM)."""
    read_source(file, shown)
    return file.read_bytes().decode("utf-8")


def unified_diff(before: str, after: str, shown: str) -> str:
    """A ``diff -u`` style patch from ``before`` to ``after``."""
    lines = difflib.unified_diff(io.StringIO(before).readlines(),
                                 io.StringIO(after).readlines(),
                                 fromfile=f"a/{shown}", tofile=f"b/{shown}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _write_atomic(file: Path, text: str) -> None:
    """Replace the file in one step, so an interrupted fmt never leaves half a recipe."""
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.chmod(tmp, file.stat().st_mode & 0o7777)
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
