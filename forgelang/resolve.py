"""Turn AST values into plain Python values, resolving variables and presets.

Every value's span is recorded under its path (a tuple of keys and list indices) so
that a pydantic error location can be mapped back to the text that caused it.
"""

from __future__ import annotations

from forgelang import ast
from forgelang.diagnostics import Diagnostics, did_you_mean
from forgelang.expressions import ExpressionError, evaluate, names_in, to_source
from forgelang.source import Span

Path_ = tuple


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
        self._busy: list[str] = []
        self.symbols: set[Path_] = set()  # paths whose value was a bare name
        self.used: set[str] = set()

    # ------------------------------------------------------------ names
    def let_value(self, name: str):
        if name not in self._let_values:
            if name in self._busy:
                self.diags.add("E051", f"variable `{name}` refers to itself",
                               self.lets[name].span, "break the cycle")
                return 0
            self._busy.append(name)
            self._let_values[name] = self.value(self.lets[name].value, ("let", name))
            self._busy.pop()
        self.used.add(name)
        return self._let_values[name]

    def preset_value(self, name: str, span: Span) -> dict:
        if name in self._preset_values:
            self.used.add(name)
            return self._preset_values[name]
        decl = self.presets[name]
        if name in self._busy:
            self.diags.add("E051", f"preset `{name}` extends itself (cycle)", decl.span,
                           "remove one `extends`")
            return {}
        self._busy.append(name)
        body = self.value(decl.body, ("preset", name))
        if decl.extends:
            body = deep_merge(self.extends(decl.extends, decl.extends_span), body)
        self._busy.pop()
        self._preset_values[name] = body
        self.used.add(name)
        return body

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
        if isinstance(expr, ast.Literal):
            return expr.value
        if isinstance(expr, ast.Ref):
            value = self._ref(expr)
            if isinstance(value, str):
                self.symbols.add(path)
            return value
        if isinstance(expr, ast.ListExpr):
            return [self.value(item, path + (i,)) for i, item in enumerate(expr.items)]
        if isinstance(expr, ast.Object):
            return self._object(expr, path)
        return self._compound(expr)

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
            return evaluate(expr, {n: self.let_value(n) for n in {r.name for r in names_in(expr)}})
        except ExpressionError as e:
            self.diags.add(e.code, str(e), e.node.span, "check the expression")
            return 0

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
