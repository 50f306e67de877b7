"""Phase 1, ``cognate``: TRM x Titans-MAG specialists from one shared initialisation.

``kernel`` tells the story (set-up, stages, measurement); ``sources`` says where examples
come from (the suite or the user's JSONL); ``eval`` holds the specialisation margins and
the merge check's weight average. Importing the package registers the kernel.
"""

from runtime.phases.cognate.kernel import CognateKernel, model_config, optimizer_for, stage_seed

__all__ = ["CognateKernel", "model_config", "optimizer_for", "stage_seed"]
