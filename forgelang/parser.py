"""Parse .forge text into the AST (forgelang.ast), reporting diagnostics, never tracebacks.

Syntax errors are reported one per statement: after an error the parser skips to the
next line that starts a statement (``forge``, ``import``, ``let``, ``recipe``, ``preset``,
``phase`` or ``gate``) and goes on from there, so a recipe with mistakes in three
phases gets three diagnostics. Within one statement only the first mistake is
reported (what follows it would mostly be noise).
"""

from __future__ import annotations

import re
from pathlib import Path

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from forgelang import ast
from forgelang.diagnostics import Diagnostic, DiagnosticError
from forgelang.files import FileTooLarge, NotRegularFile, read_regular
from forgelang.grammar import MAX_DEPTH, NestingTooDeep, lark_parser
from forgelang.source import MAX_SOURCE_BYTES, Source, Span
from forgelang.syntax_errors import classify, unit_mistake
from forgelang.transform import ToAst

__all__ = ["MAX_DEPTH", "decode_source", "parse_file", "parse_text", "read_source"]

MAX_SYNTAX_ERRORS = 20  # enough to fix a file in one pass; bounds re-parsing of junk input
STATEMENT_KEYWORDS = ("forge", "import", "let", "recipe", "preset", "phase", "gate")
# A line whose first word is a statement keyword starts a statement: keywords are
# reserved (never keys or names) and strings and comments cannot span lines.
_STATEMENT_START = re.compile(r"^[ \t]*(" + "|".join(STATEMENT_KEYWORDS) + r")\b", re.M)


def parse_text(text: str, path: str = "<string>") -> ast.Module:
    """Parse recipe text into a module.

    Args:
        text: The recipe's text.
        path: The file name shown in spans and diagnostics.

    Raises:
        DiagnosticError: The text has syntax errors: one diagnostic for each statement
            with a mistake (the first mistake in it), up to ``MAX_SYNTAX_ERRORS``.
    """
    src = Source(path, text)
    tree = _parse_tree(src)
    try:
        module = ToAst(path).transform(tree)
    except VisitError as e:  # unwrap to the original error, as Lark advises
        if isinstance(e.orig_exc, DiagnosticError):
            raise e.orig_exc from None
        raise
    return ast.Module(module.statements, path, tuple(_comments(text)))


def _parse_tree(src: Source) -> Tree:
    """The parse tree, or a DiagnosticError with the syntax errors of every statement."""
    diagnostics: list[Diagnostic] = []
    start = 0  # text before this offset is blanked: it holds statements already reported
    while True:
        try:
            tree = lark_parser().parse(_blank_before(src.text, start))
        except NestingTooDeep as e:
            diagnostics.append(_too_deep_diagnostic(src, e))
            resume_from = e.token.start_pos
        except UnexpectedInput as e:
            diagnostics.append(_unit_diagnostic(src, start, e) or _syntax_diagnostic(src, e))
            resume_from = _error_offset(e)
        else:
            if not diagnostics:
                return tree
            break
        start = _next_statement(src.text, resume_from, start)
        if start is None or len(diagnostics) >= MAX_SYNTAX_ERRORS:
            break
    raise DiagnosticError(diagnostics, {src.path: src})


def _blank_before(text: str, offset: int) -> str:
    """``text`` with everything before ``offset`` but newlines turned into spaces, so
    lines, columns and offsets after it stay what they are in the original."""
    if offset == 0:
        return text
    return re.sub(r"[^\n]", " ", text[:offset]) + text[offset:]


def _error_offset(e: UnexpectedInput) -> int | None:
    """Where a syntax error was found; None at the end of the file."""
    if isinstance(e, UnexpectedCharacters):
        return e.pos_in_stream
    token = getattr(e, "token", None)
    if isinstance(e, UnexpectedEOF) or token is None or token.type == "$END":
        return None
    return token.start_pos


def _next_statement(text: str, offset: int | None, previous: int) -> int | None:
    """The offset of the first statement keyword starting a line, at or after ``offset``
    and after ``previous`` (the last restart point); None if there is none."""
    if offset is None:
        return None
    line_start = text.rfind("\n", 0, offset) + 1
    for match in _STATEMENT_START.finditer(text, line_start):
        keyword = match.start(1)
        if keyword >= offset and keyword > previous:
            return keyword
    return None


def _too_deep_diagnostic(src: Source, e: NestingTooDeep) -> Diagnostic:
    return Diagnostic("E004", f"brackets nested more than {MAX_DEPTH} deep",
                      _token_span(src.path, e.token),
                      "flatten the structure; recipes rarely need more than a few levels")


def parse_file(path: str | Path, display: str | None = None) -> tuple[ast.Module, Source]:
    """Read and parse a file, refusing huge, binary and non-UTF-8 input with a diagnostic."""
    shown = display or str(path)
    text = read_source(Path(path), shown)
    return parse_text(text, shown), Source(shown, text)


def read_source(path: Path, shown: str) -> str:
    """Read a recipe's text or raise a DiagnosticError saying why it cannot be read (a FIFO
    or device is refused before it is read, so nothing blocks; ``forgelang.files``)."""
    whole = Span(shown, 1, 1, 1, 2)
    try:
        data = read_regular(path, MAX_SOURCE_BYTES)
    except FileTooLarge as e:
        raise DiagnosticError([Diagnostic(
            "E005", f"file is {e.size / 1e6:.1f} MB; recipes are limited to "
            f"{MAX_SOURCE_BYTES // 1024} KiB", whole, "is this really a .forge recipe?")]) from None
    except NotRegularFile as e:
        raise DiagnosticError([Diagnostic("E007", f"cannot read `{shown}`: it is {e.kind}, not "
                                          "a regular file", None, "a recipe is a .forge text file")]) from None
    except OSError as e:
        raise DiagnosticError([Diagnostic("E007", f"cannot read `{shown}`: {e.strerror}",
                                          None, "check the path")]) from None
    return decode_source(data, shown)


def decode_source(data: bytes, shown: str) -> str:
    """Decode UTF-8, reporting the first bad byte (or a NUL) as a diagnostic."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        src = Source(shown, data[: e.start].decode("utf-8", "replace"))
        raise _error(src, "E006", f"invalid UTF-8 byte 0x{data[e.start]:02x}",
                     src.span_at(len(src.text)), "save the recipe as UTF-8 text") from None
    if "\x00" in text:
        src = Source(shown, text)
        raise _error(src, "E006", "file contains NUL bytes (binary data?)",
                     src.span_at(text.index("\x00")), "is this really a .forge recipe?")
    return text.removeprefix("\ufeff")


def _error(src: Source, code: str, message: str, span: Span, hint: str) -> DiagnosticError:
    return DiagnosticError([Diagnostic(code, message, span, hint)], {src.path: src})


def _unit_diagnostic(src: Source, start: int, e: UnexpectedInput) -> Diagnostic | None:
    """A number written with a unit the language lacks (``20 minutes``), at that number."""
    found = unit_mistake(_blank_before(src.text, start), start,
                         _error_offset(e) or len(src.text))
    if found is None:
        return None
    offset, length, message, hint = found
    return Diagnostic("E001", message, src.span_at(offset, length), hint)


def _syntax_diagnostic(src: Source, e: UnexpectedInput) -> Diagnostic:
    if isinstance(e, UnexpectedEOF) or getattr(getattr(e, "token", None), "type", "") == "$END":
        span = src.span_at(max(0, len(src.text.rstrip()) - 1))
        return Diagnostic("E003", "unexpected end of file", span,
                          "a block, list or string was not closed")
    if isinstance(e, UnexpectedCharacters):
        ch = src.text[e.pos_in_stream] if e.pos_in_stream < len(src.text) else "?"
        span = src.span_at(e.pos_in_stream)
        if ch == '"':
            return Diagnostic("E002", "string is not closed", span,
                              'close it with `"` on the same line')
        message, hint = classify(src.text, e, f"unexpected character {ch!r}")
        return Diagnostic("E002", message, span, hint)
    token = e.token
    span = _token_span(src.path, token)
    shown = "newline" if token.type == "_NL" else f"`{token}`"
    message, hint = classify(src.text, e, f"unexpected {shown}")
    return Diagnostic("E001", message, span, hint)


def _token_span(path: str, tok: Token) -> Span:
    end_line = tok.end_line or tok.line
    end_col = tok.end_column or (tok.column + len(tok))
    if tok.type == "_NL":
        end_line, end_col = tok.line, tok.column + 1
    return Span(path, tok.line, tok.column, end_line, end_col, tok.start_pos or 0,
                tok.end_pos or 0)


def _comments(text: str) -> list[ast.Comment]:
    """Comments with positions, found by lexing (so '#' inside strings is not a comment)."""
    out = []
    for tok in lark_parser().lex(text, dont_ignore=True):
        if tok.type == "COMMENT":
            line_start = text.rfind("\n", 0, tok.start_pos) + 1
            own = text[line_start : tok.start_pos].strip() == ""
            out.append(ast.Comment(str(tok).rstrip(), tok.line, tok.column, own))
    return out
