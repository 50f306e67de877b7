"""Bounds on what a recipe's values may grow to once variables and presets are expanded.

A name can repeat a value without copying it, so a few lines go a long way:
``let a1 = [a0, a0, a0, a0, a0, a0, a0, a0]`` thirty times over is 1.5 KB of text and
8**30 elements for whatever walks the result (pydantic, the plan's JSON, an error
message). The resolver measures every list and block as it builds it (``ValueSizes``),
reusing the sizes of the values it shares, and refuses one past these bounds (E092).
"""

from __future__ import annotations

from typing import NamedTuple

# One value (a variable, a preset, a block, a list). The largest real ones are a few
# hundred elements (a list of levels, a block of parameters); 100,000 still validates in
# well under a second, and nothing a phase takes is that long.
MAX_ELEMENTS = 100_000
# Every phase's and the recipe's parameters together: each is validated, estimated (some
# estimates walk every listed level) and written into the plan, so this bounds the work a
# recipe can cause to seconds. The recipes in recipes/ hold under 200 elements in all.
MAX_TOTAL_ELEMENTS = 100_000
# Nesting of lists and blocks: the parser refuses brackets nested deeper than 64
# (forgelang.grammar.MAX_DEPTH), so a value built from variables may not be deeper than
# one written out. It also bounds every recursive walk of a value.
MAX_DEPTH = 64
# Characters of text built with `+` in all: no more than a recipe file may hold itself
# (forgelang.source.MAX_SOURCE_BYTES); the longest text parameter takes 4096.
MAX_TEXT = 1 << 20
# Integers computed by expressions: Python's are unbounded, so `let n1 = n0 * n0` thirty
# times over would compute a number of 2**30 digits. Every count a kind takes fits in a
# signed 64-bit integer (SQLite's INTEGER, where the registry stores them).
MAX_INT = 2**63 - 1


def too_large(size: Size) -> str | None:
    """What is wrong with a value of this size, or None when it is within the bounds (or
    holds a value refused before: that one was reported)."""
    elements, depth = size.elements, size.depth
    if size.refused:
        return None
    if elements > MAX_ELEMENTS:
        return (f"this value holds {elements:,} elements once its variables and presets are "
                f"expanded; a value may hold at most {MAX_ELEMENTS:,}")
    if depth > MAX_DEPTH:
        return (f"this value nests lists and blocks {depth} deep once its variables and "
                f"presets are expanded; at most {MAX_DEPTH} levels are allowed")
    return None


class Size(NamedTuple):
    """How big a value is: elements (1 per scalar, list and block), how deep lists and
    blocks nest (0 for a scalar), and whether it holds a value refused before."""

    elements: int
    depth: int
    refused: bool = False


class ValueSizes:
    """Sizes of the lists and blocks of one compilation, and the running totals."""

    def __init__(self) -> None:
        # id -> (the value itself, its Size); holding the value keeps its id unique
        self._known: dict[int, tuple[object, Size]] = {}
        self.total_elements = 0
        self.total_text = 0
        self._over = False  # the total went over MAX_TOTAL_ELEMENTS (reported once)

    def measure(self, value) -> Size:
        """The Size of a value. Values measured before are looked up, so a list naming
        one variable eight times costs eight look-ups."""
        if not isinstance(value, (list, dict)):
            return Size(1, 0)
        known = self._known.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        elements, depth, refused = 1, 0, False
        for item in value.values() if isinstance(value, dict) else value:
            size = self.measure(item)
            elements, depth = elements + size.elements, max(depth, size.depth)
            refused = refused or size.refused
        self._known[id(value)] = (value, Size(elements, depth + 1, refused))
        return self._known[id(value)][1]

    def stand_in(self, value):
        """An empty value of the same type to use in place of a refused one; values that
        hold it are not refused again (one error is enough)."""
        empty = type(value)() if isinstance(value, (list, dict)) else 0
        if isinstance(empty, (list, dict)):
            self._known[id(empty)] = (empty, Size(1, 1, refused=True))
        return empty

    def charge(self, block: dict) -> tuple[bool, str | None]:
        """Add a finished block to the total: (whether it may be validated, what is wrong).
        A block holding a refused value is not validated; nothing more is wrong with it."""
        self._known.pop(id(block), None)  # the compiler may have changed it since
        size = self.measure(block)
        self.total_elements += size.elements
        if self.total_elements <= MAX_TOTAL_ELEMENTS and not size.refused:
            return True, None
        if size.refused or self._over:
            return False, None  # reported already
        self._over = True
        return False, (f"the recipe's blocks hold more than {MAX_TOTAL_ELEMENTS:,} elements "
                       "in all once variables and presets are expanded")

    def add_text(self, length: int) -> bool:
        """Count text built by an expression; False once the total is over ``MAX_TEXT``."""
        self.total_text += length
        return self.total_text <= MAX_TEXT
