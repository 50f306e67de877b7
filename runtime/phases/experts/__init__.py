"""Phase 7, experts: self-analysis, Transformer² SVF experts, NSGA-II expert mixes."""

from runtime.phases.experts.kernel import ExpertsKernel

__all__ = ["ExpertsKernel"]
