"""Phase 2, ``evomerge``: evolve merges of the input models, keep the champion.

``kernel`` tells the story (load, search, hand over the champion); ``candidates`` builds
and measures one genome's merge; ``fitness`` evaluates the recipe's fitness expression;
``single`` is ``mode = merge``. Importing the package registers the kernel.
"""

from runtime.phases.evomerge.kernel import EvoMergeKernel

__all__ = ["EvoMergeKernel"]
