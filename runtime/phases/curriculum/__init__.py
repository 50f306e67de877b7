"""Phase 5, ``curriculum``: edge-of-chaos assessment, an adaptive curriculum with tool
episodes and dream replay, then the eudaimonia rules baked into the weights.

``kernel`` tells the story; ``stage`` is the checkpointed adaptive training stage (the
curriculum's state travels with the model's); ``measures`` draws and scores the held-out
sets (assessment, forgetting, tools, rule adherence); ``rules`` bakes the rules;
``storage`` keeps a ternary input ternary. The curriculum itself is the library
``runtime.curriculum``. Importing the package registers the kernel.
"""

from runtime.phases.curriculum.kernel import CurriculumKernel

__all__ = ["CurriculumKernel"]
