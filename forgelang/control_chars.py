"""Control characters: refused in recipes (E008), escaped wherever text is printed.

An escape sequence such as ``\\x1b[2J`` clears a terminal, ``\\r`` returns to the start of
a line so that later text hides earlier text, ``\\x07`` rings the bell, and the
bidirectional overrides (U+202E ...) display text in another order than it is parsed
("Trojan Source"). A recipe may hold none of them, written raw or as a string escape
(``"\\u001b"``); strings may hold tab and newline (prompts do). Diagnostics print what
reaches them through ``printable``, so a file that is refused cannot drive the terminal
either.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from forgelang import ast
from forgelang.source import Source, Span

# Unicode format and separator characters that reorder or break lines when displayed;
# the parser counts only "\n" as a line break, so U+2028/9 would also shift the lines
# that diagnostics show.
_UNICODE = "\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
# In a recipe's text: every C0 control but tab and newline ("\r" only before "\n": a
# Windows line end), DEL, the C1 controls and the Unicode ones above.
_IN_TEXT = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_UNICODE}]|\r(?!\n)")
# In a string's value, after its escapes: the same, with tab and newline allowed.
_IN_STRING = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_UNICODE}]")
# Shown on a terminal: all of them, tab, newline and carriage return included.
_UNPRINTABLE = re.compile(f"[\x00-\x1f\x7f-\x9f{_UNICODE}]")
MAX_REPORTED = 20  # control characters reported per file (one per line)
HINT = "control characters are not allowed; write the text without them"


def printable(text: str) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\u202e``)."""
    return _UNPRINTABLE.sub(lambda m: _escape(m.group()), text)


def _escape(ch: str) -> str:
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def in_text(src: Source) -> list[tuple[str, Span]]:
    """(message, span) for the first control character of each line of a recipe's text,
    at most ``MAX_REPORTED``."""
    found: list[tuple[str, Span]] = []
    pos = 0
    while len(found) < MAX_REPORTED:
        match = _IN_TEXT.search(src.text, pos)
        if match is None:
            break
        found.append((f"control character {_escape(match.group()[0])} in the recipe",
                      src.span_at(match.start())))
        pos = src.text.find("\n", match.start()) + 1  # the next line (0: there is none)
        if pos == 0:
            break
    return found


def in_strings(module: ast.Module) -> list[tuple[str, Span]]:
    """(message, span) for each string of a parsed recipe whose value holds a control
    character (written as an escape: the text itself was checked by ``in_text``)."""
    found = []
    for value, span in _strings(module):
        match = _IN_STRING.search(value)
        if match:
            found.append((f"string holds control character {_escape(match.group())}", span))
    return found


def _strings(module: ast.Module) -> Iterator[tuple[str, Span]]:
    """Every string value of a module with its span: names of recipes, import paths and
    string literals, found with an explicit stack."""
    stack: list = list(module.statements)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.RecipeDecl, ast.Import)):
            yield (node.name if isinstance(node, ast.RecipeDecl) else node.path), node.span
        if isinstance(node, ast.Literal) and isinstance(node.value, str):
            yield node.value, node.span
        stack.extend(_parts(node))


def _parts(node) -> list:
    """The expressions, items and statements a node holds."""
    if isinstance(node, (ast.Let,)):
        return [node.value]
    if isinstance(node, (ast.RecipeDecl, ast.PresetDecl, ast.PhaseDecl)):
        return [node.body]
    if isinstance(node, ast.GateDecl):
        return [*node.conditions, *node.settings]
    if isinstance(node, ast.Item):
        return [node.value]
    if isinstance(node, ast.Object):
        return list(node.items)
    if isinstance(node, ast.ListExpr):
        return list(node.items)
    if isinstance(node, ast.Call):
        return list(node.args)
    if isinstance(node, ast.Binary):
        return [node.left, node.right]
    if isinstance(node, ast.Unary):
        return [node.operand]
    if isinstance(node, ast.Paren):
        return [node.inner]
    return []
