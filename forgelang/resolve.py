"""Turn AST values into plain Python values, resolving variables and presets.

Every value's span is recorded under its path (a tuple of keys and list indices) so
that a pydantic error location can be mapped back to the text that caused it.

Values are bounded (``forgelang.value_size``): variables and presets may repeat each
other, so 1.5 KB of text can name 8**30 elements; every list and block is measured as
it is built and refused (E092) past the bounds. Variables and presets are evaluated
after what they name, depth first with an explicit stack, so a chain of 5,000 ``let``s
never recurses through Python once per link.
"""

from __future__ import annotations

from forgelang import ast
from forgelang.diagnostics import Diagnostics, did_you_mean
from forgelang.expressions import ExpressionError, children, evaluate, names_in, to_source
from forgelang.source import Span
from forgelang.transform import parse_size
from forgelang.value_size import MAX_TEXT, ValueSizes, too_large

Path_ = tuple
Node = tuple  # ("let", name) or ("preset", name): something evaluated once and cached
MEMORY_BUDGET = ("recipe", "budget", "memory")
DECIMAL_SIZE_UNITS = {"KB": "KiB", "MB": "MiB", "GB": "GiB", "TB": "TiB"}


def deep_merge(base: dict, over: dict) -> dict:
    """``over`` on top of ``base``; nested dicts merge (unless ``over`` changes their type)."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict) and \
                value.get("type", old.get("type")) == old.get("type"):
            out[key] = deep_merge(old, value)
        else:
            out[key] = value
    return out


class Resolver:
    """Evaluates lets and presets lazily; converts expressions to values with spans."""

    def __init__(self, lets: dict[str, ast.Let], presets: dict[str, ast.PresetDecl],
                 diags: Diagnostics):
        self.lets, self.presets, self.diags = lets, presets, diags
        self.spans: dict[Path_, Span] = {}  # path -> span of the value
        self.key_spans: dict[Path_, Span] = {}  # path -> span of the key that set it
        self._let_values: dict[str, object] = {}
        self._preset_values: dict[str, dict] = {}
        self.sizes = ValueSizes()
        self._computing: set[Node] = set()
        self.symbols: set[Path_] = set()  # paths whose value was a bare name
        self.used: set[str] = set()

    # ------------------------------------------------------------ names
    def let_value(self, name: str):
        if name not in self._let_values:
            self._evaluate(("let", name))
        self.used.add(name)
        return self._let_values[name]

    def preset_value(self, name: str, span: Span) -> dict:
        if name not in self._preset_values:
            self._evaluate(("preset", name))
        self.used.add(name)
        return self._preset_values[name]

    def _done(self, node: Node) -> bool:
        return node[1] in (self._let_values if node[0] == "let" else self._preset_values)

    def _evaluate(self, first: Node) -> None:
        """Evaluate ``first`` after everything it names (depth first, explicit stack)."""
        if first in self._computing:  # only if _deps missed a name: a cycle all the same
            self._cycle(first)
            return
        stack, opened, finished = [first], set(), set()
        while stack:
            node = stack[-1]
            if node in opened:
                stack.pop()
                if node not in finished:
                    finished.add(node)
                    self._compute(node)
            elif self._done(node):
                stack.pop()
            else:
                opened.add(node)
                for dep in reversed(self._deps(node)):
                    if dep in opened and dep not in finished:
                        self._cycle(dep)  # named by what names it: reported, given a stand-in
                    elif not self._done(dep):
                        stack.append(dep)

    def _deps(self, node: Node) -> list[Node]:
        """The variables and presets that evaluating ``node`` looks up, in order."""
        if node[0] == "let":
            names = referenced_names(self.lets[node[1]].value)
        else:
            decl = self.presets[node[1]]
            names = referenced_names(decl.body) + ([(decl.extends, True)] if decl.extends else [])
        out = []
        for name, preset_only in names:
            if name in self.lets and not preset_only:
                out.append(("let", name))
            elif name in self.presets:
                out.append(("preset", name))
        return out

    def _cycle(self, node: Node) -> None:
        if node[0] == "let":
            self.diags.add("E051", f"variable `{node[1]}` refers to itself",
                           self.lets[node[1]].span, "break the cycle")
            self._let_values[node[1]] = 0
        else:
            self.diags.add("E051", f"preset `{node[1]}` extends itself (cycle)",
                           self.presets[node[1]].span, "remove one `extends`")
            self._preset_values[node[1]] = {}

    def _compute(self, node: Node) -> None:
        self._computing.add(node)
        try:
            self._compute_value(node)
        finally:
            self._computing.discard(node)

    def _compute_value(self, node: Node) -> None:
        kind, name = node
        if kind == "let":
            expr = self.lets[name].value
            value = self.value(expr, ("let", name))
            self._let_values[name] = self._bounded(value, expr.span)
            return
        decl = self.presets[name]
        body = self.value(decl.body, ("preset", name))
        if decl.extends:
            body = deep_merge(self.extends(decl.extends, decl.extends_span), body)
        self._preset_values[name] = self._bounded(body, decl.span)

    def extends(self, name: str, span: Span) -> dict:
        """The dict of the preset named in an ``extends`` clause (empty after an error)."""
        if name not in self.presets:
            self.diags.add("E050", f"unknown preset `{name}`", span,
                           did_you_mean(name, self.presets) or "declare it with `preset`")
            return {}
        return self.preset_value(name, span)

    # ------------------------------------------------------------ values
    def value(self, expr: ast.Expr, path: Path_):
        """The Python value of an expression, recording spans under ``path``."""
        self.spans[path] = getattr(expr, "span", None)
        if path == MEMORY_BUDGET:
            self._check_budget_unit(expr)
        if isinstance(expr, ast.Literal):
            return expr.value
        if isinstance(expr, ast.Ref):
            value = self._ref(expr)
            if isinstance(value, str):
                self.symbols.add(path)
            return value
        if isinstance(expr, ast.ListExpr):
            items = [self.value(item, path + (i,)) for i, item in enumerate(expr.items)]
            return self._bounded(items, expr.span)
        if isinstance(expr, ast.Object):
            return self._bounded(self._object(expr, path), expr.span)
        return self._compound(expr)

    def _check_budget_unit(self, expr: ast.Expr) -> None:
        """W003 when the memory budget is written in decimal units (``4GB`` is 4.0e9 bytes,
        7% less than the ``4GiB`` people usually mean); followed through ``let`` names."""
        seen = set()
        while isinstance(expr, ast.Ref) and expr.name in self.lets and expr.name not in seen:
            seen.add(expr.name)
            expr = self.lets[expr.name].value
        if not (isinstance(expr, ast.Literal) and expr.unit == "size"):
            return
        number, unit = expr.text.rstrip("KMGTB"), expr.text[len(expr.text.rstrip("KMGTB")):]
        if unit not in DECIMAL_SIZE_UNITS:
            return
        binary = f"{number}{DECIMAL_SIZE_UNITS[unit]}"
        self.diags.add("W003", f"memory budget `{expr.text}` is {expr.value:,} bytes (powers "
                       f"of 1000), not {binary} ({parse_size(binary):,} bytes)", expr.span,
                       f"write `{binary}` if you mean binary units, as device memory is counted")

    def _bounded(self, value, span: Span | None):
        """``value``, or an empty list/block in its place after E092 when it is too large."""
        problem = too_large(self.sizes.measure(value))
        if problem is None:
            return value
        self.diags.add("E092", problem, span, "a variable or preset repeated inside lists or "
                       "blocks multiplies its size; write the value out instead")
        return self.sizes.stand_in(value)

    def within_budget(self, block: dict, span: Span | None) -> bool:
        """Count a finished block (a phase's or the recipe's parameters) towards the
        recipe's total. False when it must not be validated: it holds a value refused
        already, or the total went over ``MAX_TOTAL_ELEMENTS`` (E092)."""
        ok, message = self.sizes.charge(block)
        if message is not None:
            self.diags.add("E092", message, span, "make the lists these blocks name smaller")
        return ok

    def _ref(self, ref: ast.Ref):
        if ref.name in self.lets:
            return self.let_value(ref.name)
        if ref.name in self.presets:
            return self.preset_value(ref.name, ref.span)
        return ref.name  # a symbol: an enum value, a phase name, a metric ...

    def _object(self, obj: ast.Object, path: Path_) -> dict:
        body: dict = {}
        for item in obj.items:
            if item.key in body:
                self.diags.add("E030", f"`{item.key}` is set twice in this block", item.key_span,
                               "remove one of them")
                continue
            self.key_spans[path + (item.key,)] = item.key_span
            body[item.key] = self.value(item.value, path + (item.key,))
        if obj.type is None:
            return body
        if obj.type in self.presets:
            return deep_merge(self.preset_value(obj.type, obj.type_span), body)
        return {"type": obj.type, **body}

    def _compound(self, expr: ast.Expr):
        """Fold constant expressions; keep ones with free names (metrics) as source text."""
        free = [r for r in names_in(expr) if r.name not in self.lets]
        if free:
            return to_source(self.substitute(expr))
        try:
            value = evaluate(expr, {n: self.let_value(n) for n in {r.name for r in names_in(expr)}})
        except ExpressionError as e:
            self.diags.add(e.code, str(e), e.node.span, "check the expression")
            return 0
        if isinstance(value, str) and not self.sizes.add_text(len(value)):
            self.diags.add("E092", f"the recipe's expressions build more than {MAX_TEXT:,} "
                           "characters of text in all", expr.span, "use shorter text")
            return ""
        return value

    def substitute(self, expr: ast.Expr) -> ast.Expr:
        """Replace variable references by their (numeric or string) values."""
        if isinstance(expr, ast.Ref) and expr.name in self.lets:
            value = self.let_value(expr.name)
            if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                return ast.Literal(value, "", "", expr.span)
            return expr
        if isinstance(expr, ast.Binary):
            return ast.Binary(expr.op, self.substitute(expr.left), self.substitute(expr.right),
                              expr.span)
        if isinstance(expr, ast.Unary):
            return ast.Unary(expr.op, self.substitute(expr.operand), expr.span)
        if isinstance(expr, ast.Paren):
            return ast.Paren(self.substitute(expr.inner), expr.span)
        if isinstance(expr, ast.Call):
            return ast.Call(expr.func, tuple(self.substitute(a) for a in expr.args), expr.span)
        return expr


def referenced_names(expr: ast.Expr) -> list[tuple[str, bool]]:
    """Every name an expression looks up, in order, as ``(name, preset_only)``: a
    reference (a variable, else a preset, else a symbol) or a typed block's type (a
    preset or a built-in type). Walked with an explicit stack."""
    out: list[tuple[str, bool]] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Ref):
            out.append((node.name, False))
        elif isinstance(node, ast.Object) and node.type is not None:
            out.append((node.type, True))
        stack.extend(reversed(children(node)))
    return out
