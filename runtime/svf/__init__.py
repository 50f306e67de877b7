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

from runtime.svf.router import ExpertRouter
from runtime.svf.store import ExpertSet, load_experts, save_experts

__all__ = ["ExpertRouter", "ExpertSet", "load_experts", "save_experts"]
