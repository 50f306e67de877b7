"""Transformer² singular-value fine-tuning (SVF) experts (Sun, Cetin, Tang, arXiv:2501.06252).

- ``decompose``: W = U diag(sigma) V^T of target matrices; W' = U diag(sigma * z) V^T;
  mixes z = 1 + sum_k alpha_k (z_k - 1);
- ``reinforce``: the REINFORCE + KL objective that trains one expert's z vectors;
- ``scoring``: teacher-forced greedy exact match (one forward per batch);
- ``classify``: the model picks a prompt's skill (prompt classification);
- ``cem`` / ``nsga``: the cross-entropy method and pymoo's NSGA-II over mixing weights;
- ``evaluations``: logged, replayable search evaluations (exact resume);
- ``store`` / ``router``: experts saved beside a model (safetensors + JSON) and selected
  per prompt at load (``ExpertRouter``).
"""


_LAZY = {"ExpertRouter": "runtime.svf.router", "ExpertSet": "runtime.svf.store",
         "load_experts": "runtime.svf.store", "save_experts": "runtime.svf.store"}


def __getattr__(name: str):
    """The public names, imported on first use (a kernel importing ``runtime.svf.decompose``
    does not load the router)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'runtime.svf' has no attribute {name!r}")


__all__ = ["ExpertRouter", "ExpertSet", "load_experts", "save_experts"]
