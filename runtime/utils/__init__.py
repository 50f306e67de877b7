"""Model-size-agnostic utilities from the design.

``size`` and ``batch`` are torch-free and re-exported here; ``divergence`` and
``allocator`` are imported from their modules (``divergence`` needs torch).
"""

from runtime.utils.batch import adaptive_batch_size
from runtime.utils.size import SIZE_THRESHOLDS, size_category

__all__ = ["SIZE_THRESHOLDS", "adaptive_batch_size", "size_category"]
