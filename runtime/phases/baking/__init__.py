"""Phase 6 kernel: A-cycle tool-use and B-cycle persona prompt baking (``baking``)."""

from runtime.phases.baking.kernel import BakingKernel

__all__ = ["BakingKernel"]
