"""Source files and spans: where every AST node and diagnostic points."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAX_SOURCE_BYTES = 1 << 20  # recipes are small; refuse anything over 1 MiB


@dataclass(frozen=True)
class Span:
    """A range in a source file; lines and columns are 1-based, ``end_col`` exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int
    start: int = 0
    end: int = 0

    def to_json(self) -> dict:
        return {
            "file": self.file,
            "start": {"line": self.line, "column": self.col, "offset": self.start},
            "end": {"line": self.end_line, "column": self.end_col, "offset": self.end},
        }


@dataclass(frozen=True)
class Source:
    """The text of one recipe file, with helpers to find lines."""

    path: str
    text: str

    @classmethod
    def from_string(cls, text: str, path: str = "<string>") -> Source:
        return cls(path=path, text=text)

    def line_text(self, line: int) -> str:
        """Line ``line`` (1-based) as the parser counts lines: only "\n" ends one."""
        lines = self.text.split("\n")
        return lines[line - 1].removesuffix("\r") if 0 < line <= len(lines) else ""

    def span_at(self, offset: int, length: int = 1) -> Span:
        """The span of ``length`` characters starting at character ``offset``."""
        offset = max(0, min(offset, len(self.text)))
        line = self.text.count("\n", 0, offset) + 1
        col = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return Span(self.path, line, col, line, col + max(1, length), offset, offset + length)

    def whole_file_span(self) -> Span:
        return Span(self.path, 1, 1, 1, 2, 0, 0)


def display_path(path: Path) -> str:
    """A path as users typed it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
