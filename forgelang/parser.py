"""Parse .forge text into the AST (forgelang.ast), reporting diagnostics, never tracebacks."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from forgelang import ast
from forgelang.diagnostics import Diagnostic, DiagnosticError
from forgelang.source import MAX_SOURCE_BYTES, Source, Span
from forgelang.syntax_errors import classify

MAX_DEPTH = 64  # brackets nested deeper than this are refused (and keep recursion bounded)
GRAMMAR = Path(__file__).with_name("forge.lark")


class _Postlexer:
    """Passes newline tokens only directly inside ``gate`` blocks; bounds nesting depth."""

    always_accept = ("_NL",)
    _OPEN = {"LBRACE": "}", "LSQB": "]", "LPAR": ")"}
    _CLOSE = {"RBRACE", "RSQB", "RPAR"}

    def process(self, stream):
        stack: list[str] = []
        gate_pending = False
        last_nl = True
        for tok in stream:
            kind = tok.type
            if kind == "_NL":
                if stack and stack[-1] == "gate" and not last_nl:
                    last_nl = True
                    yield tok
                continue
            if kind in self._OPEN:
                stack.append("gate" if gate_pending and kind == "LBRACE" else kind)
                gate_pending = False
                if len(stack) > MAX_DEPTH:
                    raise _TooDeep(tok)
            elif kind in self._CLOSE and stack:
                stack.pop()
            elif kind == "GATE":
                gate_pending = True
            last_nl = kind == "LBRACE"
            yield tok


class _TooDeep(Exception):
    def __init__(self, token: Token):
        self.token = token


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(
        GRAMMAR.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        postlex=_Postlexer(),
        propagate_positions=True,
        maybe_placeholders=True,
        strict=True,
        cache=True,
    )


def parse_text(text: str, path: str = "<string>") -> ast.Module:
    """Parse recipe text. Raises DiagnosticError with every syntax problem found."""
    src = Source(path, text)
    comments: list[ast.Comment] = []
    try:
        tree = _parser().parse(text)
    except _TooDeep as e:
        span = _token_span(path, e.token)
        raise _error(src, "E004", f"brackets nested more than {MAX_DEPTH} deep", span,
                     "flatten the structure; recipes rarely need more than a few levels") from None
    except UnexpectedInput as e:
        raise DiagnosticError([_syntax_diagnostic(src, e)], {path: src}) from None
    try:
        module = _ToAst(path).transform(tree)
    except VisitError as e:  # unwrap to the original error, as Lark advises
        if isinstance(e.orig_exc, DiagnosticError):
            raise e.orig_exc from None
        raise
    comments = _comments(text)
    return ast.Module(module.statements, path, tuple(comments))


def parse_file(path: str | Path, display: str | None = None) -> tuple[ast.Module, Source]:
    """Read and parse a file, refusing huge, binary and non-UTF-8 input with a diagnostic."""
    shown = display or str(path)
    text = read_source(Path(path), shown)
    return parse_text(text, shown), Source(shown, text)


def read_source(path: Path, shown: str) -> str:
    """Read a recipe's text or raise a DiagnosticError saying why it cannot be read."""
    whole = Span(shown, 1, 1, 1, 2)
    try:
        size = path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise DiagnosticError([Diagnostic(
                "E005", f"file is {size / 1e6:.1f} MB; recipes are limited to "
                f"{MAX_SOURCE_BYTES // 1024} KiB", whole, "is this really a .forge recipe?")])
        data = path.read_bytes()
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
    for tok in _parser().lex(text, dont_ignore=True):
        if tok.type == "COMMENT":
            line_start = text.rfind("\n", 0, tok.start_pos) + 1
            own = text[line_start : tok.start_pos].strip() == ""
            out.append(ast.Comment(str(tok).rstrip(), tok.line, tok.column, own))
    return out


from forgelang.transform import ToAst as _ToAst  # noqa: E402  (after helpers it uses)
