"""registry and registry_queries: no import cycle, not even one broken by a lazy import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from runtime import registry, registry_errors, registry_queries

RUNTIME = Path(__file__).resolve().parents[3] / "runtime"


def _imports(module: str) -> list[tuple[str, bool]]:
    """Every module ``runtime/<module>.py`` imports, and whether the import is lazy."""
    tree = ast.parse((RUNTIME / f"{module}.py").read_text())
    top = {id(node) for node in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, id(node) not in top))
        elif isinstance(node, ast.Import):
            out += [(alias.name, id(node) not in top) for alias in node.names]
    return out


def test_registry_queries_does_not_import_registry():
    imported = _imports("registry_queries")
    assert ("runtime.registry", True) not in imported
    assert "runtime.registry" not in {name for name, _ in imported}


def test_neither_imports_the_other_lazily():
    for module in ("registry", "registry_queries"):
        lazy = [name for name, is_lazy in _imports(module) if is_lazy]
        assert not [n for n in lazy if n.startswith("runtime.registry")], (module, lazy)


def test_one_registry_error(tmp_path):
    assert registry.RegistryError is registry_errors.RegistryError
    with registry.ModelRegistry(tmp_path) as reg:
        with pytest.raises(registry_errors.RegistryError, match="no runs"):
            reg.show()
        with pytest.raises(registry_errors.RegistryError, match="no model"):
            reg.find_model("123")
    assert registry_queries.RegistryError is registry_errors.RegistryError
