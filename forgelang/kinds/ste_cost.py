"""Straight-through (BitNet) training and ternary forwards: the tensor ops and FLOPs they
add to the float passes that ``costs`` and ``pass_cost`` count. Shared by the bitnet and
curriculum estimates.
"""

from __future__ import annotations

from dataclasses import dataclass

from forgelang.kinds import pass_cost

# Tensor ops a straight-through training step adds to a float step (forward + backward +
# optimiser), counted with a TorchDispatchMode: per layer application (layers x recursions x
# supervision steps; Cognate configs with 2-3 layers, 2-4 recursions, 1-2 supervision steps
# at 30-90 tokens, constant over the length), per layer, and per supervision step. A stored
# ternary layer made float and lifted (``runtime.bitnet``: later phases) and a float layer
# ternarised for the first time (the bitnet phase) differ; the per-layer terms are fitted to
# the real smoke and tiny inputs (815 / 1209 and 745 / 1105 ops a step). The bitnet phase's
# whole steps: smoke 4,011 counted / 3,994 planned; tiny 3,990 / 3,561 (its batches average
# 29.9 tokens, but those over one 32-token memory chunk write memory: charging the mean
# width misses their writes).
STE_TERNARY_IN = (104, 186, 26)  # (per application, per layer, per supervision step)
STE_FLOAT_IN = (98, 164, 24)


def ste_step_ops(cost, ternary_input: bool) -> float:
    """Ops one straight-through step adds to a float training step (see ``STE_*``)."""
    app, layer, step = STE_TERNARY_IN if ternary_input else STE_FLOAT_IN
    applications = cost.supervision_steps * cost.recursions * cost.n_layers
    return app * applications + layer * cost.n_layers + step * cost.supervision_steps


def muon_flops(cost, ns_steps: int) -> float:
    """FLOPs of one Muon update of every hidden matrix: ``ns_steps`` quintic Newton-Schulz
    iterations on an (r, c) matrix (r <= c) cost 4 r^2 c + 2 r^3 each (``X X^T``, ``A A``,
    ``B X``); r is taken as ``d_model`` (every hidden matrix has it as one side)."""
    d = cost.d_model
    return ns_steps * (4 * d * cost.matrix_params + 2 * d**3 * cost.n_matrices)

@dataclass(frozen=True)
class ForwardExtra:
    """``cost`` whose every no-grad forward dispatches ``extra`` more ops (a ternary model's
    input quantisers): ``pass_cost`` charges a forward ``FORWARD_OP_SHARE`` of
    ``train_ops_per_step``, so that is raised by ``extra / FORWARD_OP_SHARE``. For passes
    without gradient only."""

    cost: object
    extra: float

    def __getattr__(self, name):
        return getattr(self.cost, name)

    def train_ops_per_step(self, seq_len: int) -> float:
        return self.cost.train_ops_per_step(seq_len) + self.extra / pass_cost.FORWARD_OP_SHARE


def measurement(work, cost, p, extra: float = 0.0) -> None:
    """``pass_cost.measurement`` of a model whose forwards dispatch ``extra`` more ops."""
    pass_cost.measurement(work, ForwardExtra(cost, extra) if extra else cost, p,
                          cost.vocab_size)
