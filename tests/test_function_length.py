"""The design's rule: no function longer than 60 lines (docstring excluded)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 60


def _long_functions(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(
                    getattr(body[0], "value", None), ast.Constant):
                body = body[1:]
            if body:
                length = body[-1].end_lineno - body[0].lineno + 1
                if length > LIMIT:
                    yield f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)"


def test_no_function_over_60_lines():
    files = [p for d in ("forgelang", "runtime", "benchmarks") for p in (ROOT / d).rglob("*.py")]
    assert files, "no sources found"
    offenders = [f for p in files for f in _long_functions(p)]
    assert not offenders, "functions over 60 lines:\n" + "\n".join(offenders)
