"""``forge diff``: two runs side by side (torch-free). ``compare`` computes, ``render`` prints."""

from runtime.diff.compare import diff_runs, moved, plan_parameters
from runtime.diff.render import print_diff

__all__ = ["diff_runs", "moved", "plan_parameters", "print_diff"]
