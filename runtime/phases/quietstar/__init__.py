"""Phase 3, ``quietstar``: bake a reasoning prompt, then Quiet-STaR thought training.

``kernel`` tells the story (measure, bake, train thoughts, measure, check, save);
``data`` draws the training text and the baking queries; ``checks`` runs the
anti-theatre controls and the coherence scores. The thought machinery itself is the
library ``runtime.thoughts``. Importing the package registers the kernel.
"""

from runtime.phases.quietstar.kernel import QuietStarKernel

__all__ = ["QuietStarKernel"]
