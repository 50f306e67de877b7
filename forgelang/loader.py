"""Load a recipe and its imports: resolve paths, refuse escapes and cycles.

Imports resolve relative to the importing file and must stay inside the root
recipe's folder tree (or a folder passed with ``--import-root``). An imported file
may hold only ``forge``, ``import``, ``let`` and ``preset`` statements. Every file is
read through ``forgelang.files``: a FIFO, a device or a file over ``MAX_SOURCE_BYTES``
is refused with a diagnostic before a byte of it is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from forgelang import ast, control_chars
from forgelang.diagnostics import Diagnostic, DiagnosticError, Diagnostics
from forgelang.files import FileTooLarge, NotRegularFile, read_regular
from forgelang.grammar import SourceTooComplex
from forgelang.parser import decode_source, parse_text
from forgelang.source import MAX_SOURCE_BYTES, Source, Span, display_path

IMPORTABLE = (ast.Version, ast.Import, ast.Let, ast.PresetDecl)


@dataclass
class Unit:
    """One loaded file and the names it exports (lets and presets, with their prefix)."""

    module: ast.Module
    path: Path | None
    lets: dict[str, ast.Let] = field(default_factory=dict)
    presets: dict[str, ast.PresetDecl] = field(default_factory=dict)


class Loader:
    """Loads the root file and, recursively, what it imports."""

    def __init__(self, diags: Diagnostics, import_roots: list[Path] | None = None):
        self.diags = diags
        self.roots = [p.resolve() for p in (import_roots or [])]
        self._stack: list[Path] = []
        self._cache: dict[Path, Unit] = {}

    def files(self) -> list[Path]:
        """Every recipe file loaded so far (the root and its imports)."""
        return list(self._cache)

    def load_root(self, path: Path) -> Unit | None:
        self.roots.insert(0, path.resolve().parent)
        return self._load(path.resolve(), display_path(path))

    def load_text(self, text: str, name: str, base: Path) -> Unit | None:
        """Load recipe text that has no file (tests, stdin); imports resolve from ``base``."""
        self.roots.insert(0, base.resolve())
        try:
            module = self._parse(text, name)
        except DiagnosticError as e:
            self._absorb(e)
            return None
        self.diags.sources[name] = Source(name, text)
        return self._collect(module, base.resolve() / "__recipe__", is_root=True)

    def _load(self, path: Path, shown: str, is_root: bool = True,
              importer: Span | None = None) -> Unit | None:
        if path in self._cache:
            return self._cache[path]
        try:
            text = read_recipe(path, shown, importer)
            module = self._parse(text, shown)
        except DiagnosticError as e:
            self._absorb(e)
            return None
        self.diags.sources[shown] = Source(shown, text)
        self._stack.append(path)
        unit = self._collect(module, path, is_root)
        self._stack.pop()
        self._cache[path] = unit
        return unit

    def _parse(self, text: str, shown: str) -> ast.Module:
        """One file's module. Control characters are E008: in its text the file is not
        parsed at all; in a string's value (an escape) the string is reported."""
        module = parse_recipe(text, shown, strings_fatal=False)
        for message, span in control_chars.in_strings(module):
            self.diags.add("E008", message, span, control_chars.HINT)
        return module

    def _absorb(self, e: DiagnosticError) -> None:
        self.diags.extend(e.diagnostics)
        self.diags.sources.update(e.sources)

    def _collect(self, module: ast.Module, path: Path, is_root: bool) -> Unit:
        unit = Unit(module, path)
        for stmt in module.statements:
            if not is_root and not isinstance(stmt, IMPORTABLE):
                self.diags.add("E012", "an imported file may only hold `let` and `preset` "
                               "statements", stmt.span, "move this into the recipe that imports it")
            elif isinstance(stmt, ast.Import):
                self._import(unit, stmt)
            elif isinstance(stmt, ast.Let):
                self._define(unit.lets, stmt.name, stmt, stmt.name_span, "variable")
            elif isinstance(stmt, ast.PresetDecl):
                self._define(unit.presets, stmt.name, stmt, stmt.name_span, "preset")
        return unit

    def _define(self, table: dict, name: str, node, span, what: str) -> None:
        if name in table:
            first = table[name].span
            self.diags.add("E030", f"{what} `{name}` is defined twice", span,
                           f"first defined at {first.file}:{first.line}:{first.col}")
        else:
            table[name] = node

    def _import(self, unit: Unit, stmt: ast.Import) -> None:
        try:
            target = (unit.path.parent / stmt.path).resolve()
        except (ValueError, OSError) as e:  # e.g. a NUL byte in the path
            self.diags.add("E040", f"import path `{stmt.path!r}` is not usable: {e}", stmt.span,
                           "write a relative path to a .forge file")
            return
        if not any(target.is_relative_to(root) for root in self.roots):
            self.diags.add("E042", f"import `{stmt.path}` points outside the recipe's folder tree",
                           stmt.span, "pass --import-root DIR to allow that folder")
            return
        if target in self._stack:
            chain = " -> ".join(p.name for p in self._stack[self._stack.index(target):])
            self.diags.add("E041", f"import cycle: {chain} -> {target.name}", stmt.span,
                           "remove one of the imports")
            return
        if not target.exists():
            self.diags.add("E040", f"imported file `{stmt.path}` not found", stmt.span,
                           f"looked for {target} (import paths are relative to the "
                           "importing file's folder)")
            return
        child = self._load(target, display_path(target), is_root=False, importer=stmt.span)
        if child is not None:
            self._merge(unit, child, stmt.alias, stmt)

    def _merge(self, unit: Unit, child: Unit, alias: str | None, stmt: ast.Import) -> None:
        prefix = f"{alias}." if alias else ""
        for name, let in child.lets.items():
            self._define(unit.lets, prefix + name, let, stmt.span, "variable")
        for name, preset in child.presets.items():
            self._define(unit.presets, prefix + name, preset, stmt.span, "preset")


def read_recipe(path: Path, shown: str, importer: Span | None = None) -> str:
    """A recipe file's text, or a DiagnosticError saying why it cannot be read.

    Nothing is read from a path that is not a regular file (a FIFO would block, and
    ``/dev/zero`` never ends) or from a file over ``MAX_SOURCE_BYTES``. ``importer`` is
    the ``import`` statement that named the file, where its problems are shown.
    """
    try:
        data = read_regular(path, MAX_SOURCE_BYTES)
    except FileTooLarge as e:
        raise _unreadable("E005", f"`{shown}` is {e.size / 1e6:.1f} MB; recipes are limited "
                          f"to {MAX_SOURCE_BYTES // 1024} KiB", importer or Span(shown, 1, 1, 1, 2),
                          "is this really a .forge recipe?") from None
    except NotRegularFile as e:
        raise _unreadable("E007", f"cannot read `{shown}`: it is {e.kind}, not a regular file",
                          importer, "a recipe is a .forge text file") from None
    except OSError as e:
        raise _unreadable("E007", f"cannot read `{shown}`: {e.strerror or e}", importer,
                          "check the path") from None
    return decode_source(data, shown)


def _unreadable(code: str, message: str, span: Span | None, hint: str) -> DiagnosticError:
    return DiagnosticError([Diagnostic(code, message, span, hint)])


def parse_recipe(text: str, shown: str, strings_fatal: bool = True) -> ast.Module:
    """``parse_bounded`` for every reader of recipe text that compiles (files, imports,
    ``--set`` values): control characters are E008 (in the text: nothing is parsed; in a
    string's value: raised too unless ``strings_fatal`` is False, for a caller that
    reports them beside its other diagnostics)."""
    src = Source(shown, text)
    refused = control_chars.in_text(src)
    if refused:
        raise DiagnosticError([Diagnostic("E008", message, span, control_chars.HINT)
                               for message, span in refused], {shown: src})
    module = parse_bounded(text, shown)
    strings = control_chars.in_strings(module) if strings_fatal else []
    if strings:
        raise DiagnosticError([Diagnostic("E008", message, span, control_chars.HINT)
                               for message, span in strings], {shown: src})
    return module


def parse_bounded(text: str, shown: str) -> ast.Module:
    """``parse_text``, with an expression or number too long for the parser to handle
    safely (``grammar.SourceTooComplex``) a diagnostic too; no control-character rule
    (``fmt`` formats whatever text it is given)."""
    try:
        return parse_text(text, shown)
    except SourceTooComplex as e:
        tok = e.token
        span = Span(shown, tok.line, tok.column, tok.end_line or tok.line,
                    tok.end_column or tok.column + 1, tok.start_pos or 0, tok.end_pos or 0)
        raise DiagnosticError([Diagnostic(e.code, str(e), span, e.hint)],
                              {shown: Source(shown, text)}) from None
