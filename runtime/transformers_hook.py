"""Make ``import runtime`` enough for ``AutoModelForCausalLM.from_pretrained`` to load our models.

Registering the Cognate model and the stored forms (``runtime.nn``, ``runtime.formats``)
imports torch and transformers, which ``import runtime`` must not do: ``forge plan`` and the
registry stay torch-free. So ``import runtime`` registers them at the moment transformers
is imported: at once when it already is, otherwise through a one-shot import hook that runs
after ``transformers`` has finished importing. A process that never imports transformers
never pays for it.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys

TARGET = "transformers"


def register() -> None:
    """Register the Cognate model and every stored form with transformers' Auto classes."""
    import runtime.nn  # noqa: F401  (registers the model and imports runtime.formats)


class _AfterTransformers(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the real loader of ``transformers`` so that ``register``
    runs once the package has executed, then removes itself."""

    def find_spec(self, name, path=None, target=None):
        if name != TARGET:
            return None
        uninstall()
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_then_register(module) -> None:
            run(module)
            register()

        spec.loader.exec_module = exec_then_register
        return spec


_HOOK = _AfterTransformers()


def uninstall() -> None:
    """Remove the import hook (idempotent)."""
    if _HOOK in sys.meta_path:
        sys.meta_path.remove(_HOOK)


def install() -> None:
    """Register now when transformers is loaded, else once it is imported."""
    if TARGET in sys.modules:
        register()
    elif _HOOK not in sys.meta_path:
        sys.meta_path.insert(0, _HOOK)
