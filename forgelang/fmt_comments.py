"""Attach a module's comments to the AST nodes ``forge fmt`` prints them with.

The AST keeps comments apart (``Module.comments``, with line and column), so the
formatter first decides, for every comment, which node carries it:

- *leading*: an own-line comment, printed above the statement, item, gate condition
  or list element that follows it in its block;
- *trailing*: a comment that ends the line where a statement/item/element ends;
- *header*: a comment right after a block's ``{`` (or a list's ``[``) on its line;
- *footer*: own-line comments after the last item of a block, kept before ``}``.

Expressions that are printed on one line (calls, arithmetic, parentheses) cannot
hold a comment, so comments written inside them are *hoisted*: printed above the
statement or item that contains the expression. Every comment lands in exactly one
place; a comment is never dropped or duplicated.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from forgelang import ast

Pos = tuple[int, int]


@dataclass(frozen=True)
class Note:
    """A comment printed on a line of its own."""

    text: str
    blank: bool = False  # the source had a blank line right above it
    hoisted: bool = False  # moved out of an expression that is printed on one line


@dataclass
class Notes:
    """The comments one node carries."""

    leading: list[Note] = field(default_factory=list)
    trailing: str | None = None
    header: str | None = None
    footer: list[Note] = field(default_factory=list)
    blank: bool = False  # the source had a blank line right above the node itself


_NONE = Notes()


class CommentMap:
    """Comments by node (nodes are keyed by identity: equal nodes may sit in two places)."""

    def __init__(self) -> None:
        self._notes: dict[int, Notes] = {}
        self._busy: set[int] = set()

    def of(self, node: object) -> Notes:
        """The comments ``node`` carries (an empty record when none); do not mutate it."""
        return self._notes.get(id(node), _NONE)

    def busy(self, node: object) -> bool:
        """Whether any comment is printed inside the block or list ``node``."""
        return id(node) in self._busy

    def _get(self, node: object) -> Notes:
        return self._notes.setdefault(id(node), Notes())


def attach_comments(module: ast.Module) -> CommentMap:
    """Decide where every comment of ``module`` is printed."""
    cmap = CommentMap()
    _open(cmap, module, sorted(module.comments, key=_pos))
    return cmap


# ----------------------------------------------------------------- positions
def _pos(comment: ast.Comment) -> Pos:
    return (comment.line, comment.col)


def _start(node) -> Pos:
    return (node.span.line, node.span.col)


def _end(node) -> Pos:
    return (node.span.end_line, node.span.end_col)


def _inside(node, comment: ast.Comment) -> bool:
    return _start(node) <= _pos(comment) < _end(node)


# ---------------------------------------------------------------- structure
def children(container) -> list:
    """The elements a container prints one per line, in source order."""
    if isinstance(container, ast.Module):
        return list(container.statements)
    if isinstance(container, (ast.Object, ast.ListExpr)):
        return list(container.items)
    if isinstance(container, ast.GateDecl):
        return sorted([*container.conditions, *container.settings], key=_start)
    raise TypeError(f"not a container: {type(container).__name__}")


def _sub_container(element):
    """The block or list inside an element that lays its own comments out, if any."""
    if isinstance(element, (ast.RecipeDecl, ast.PresetDecl, ast.PhaseDecl)):
        return element.body
    if isinstance(element, ast.GateDecl):
        return element
    value = element.value if isinstance(element, (ast.Let, ast.Item)) else element
    return value if isinstance(value, (ast.Object, ast.ListExpr)) else None


# ---------------------------------------------------------------- placement
def _open(cmap: CommentMap, container, comments: list[ast.Comment]) -> None:
    """Place the comments that fall inside ``container`` (sorted by position)."""
    if comments:
        cmap._busy.add(id(container))
    kids = children(container)
    starts = [_start(kid) for kid in kids]
    inside: list[list[ast.Comment]] = [[] for _ in kids]
    loose = []
    for c in comments:
        k = bisect_right(starts, _pos(c)) - 1  # the last child starting before the comment
        (inside[k] if k >= 0 and _inside(kids[k], c) else loose).append(c)
    head_line = container.span.line if not isinstance(container, ast.Module) else 0
    blank = _blank_lines(kids, comments, head_line)
    prev_end = head_line  # an element on the `{` line follows the `{`
    for kid in kids:  # only an element that starts its line can have a blank line above
        if kid.span.line > prev_end and blank(kid.span.line):
            cmap._get(kid).blank = True
        prev_end = kid.span.end_line
    for c in loose:  # before the children, so hoisted notes come after leading ones
        k = bisect_right(starts, _pos(c))
        prev, after = (kids[k - 1] if k else None), (kids[k] if k < len(kids) else None)
        _place(cmap, container, (prev, after), c, head_line, c.own_line and blank(c.line))
    for kid, mine in zip(kids, inside, strict=True):  # visit every block: blank lines count
        _element(cmap, kid, mine)


def _blank_lines(kids: list, comments: list[ast.Comment], head_line: int):
    """A test: was the line above ``line`` empty in the source (within this container)?"""
    used = {c.line for c in comments} | {head_line}
    for kid in kids:
        used.update(range(kid.span.line, kid.span.end_line + 1))
    return lambda line: line > 1 and (line - 1) not in used


def _place(cmap: CommentMap, container, around: tuple, c: ast.Comment, head_line: int,
           blank: bool) -> None:
    """Place a comment that lies between two children of ``container`` (None: no child)."""
    prev, after = around
    if not c.own_line and prev is not None and prev.span.end_line == c.line \
            and cmap.of(prev).trailing is None:
        cmap._get(prev).trailing = c.text
    elif not c.own_line and prev is None and c.line == head_line \
            and cmap.of(container).header is None:
        cmap._get(container).header = c.text
    elif after is not None:
        cmap._get(after).leading.append(Note(c.text, blank))
    else:
        cmap._get(container).footer.append(Note(c.text, blank))


def _element(cmap: CommentMap, element, comments: list[ast.Comment]) -> None:
    """Place comments inside one element: in its block/list, or hoisted above it."""
    sub = _sub_container(element)
    if sub is element:
        _open(cmap, element, comments)
        return
    within = [c for c in comments if sub is not None and _inside(sub, c)]
    for c in comments:
        if sub is None or not _inside(sub, c):
            cmap._get(element).leading.append(Note(c.text, hoisted=True))
    if sub is not None:
        _open(cmap, sub, within)
