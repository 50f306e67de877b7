"""Self-written personas and the A/B baking loop of phase 6 (``baking``).

- ``writing``: the model writes persona prompts itself (sampled, seeded, batched);
- ``scoring``: task scores of episodes under a prompt (tool use with the calculator
  executed, personas with the persona prepended) and tool-call statistics;
- ``drift``: KL of a model's next-token distributions to a reference model's (the phase's
  input) on held-out text;
- ``cycles``: which cycle runs next, A (tool use) or B (personas), with plateau detection.

See docs/baking.md (phase 6).
"""

from runtime.personas.cycles import CYCLES, CycleSchedule, plateaued
from runtime.personas.drift import Reference, kl_to_reference, reference_distributions
from runtime.personas.scoring import group_scores, tool_statistics, with_prompt
from runtime.personas.writing import fit_persona, write_personas

__all__ = ["CYCLES", "CycleSchedule", "Reference", "fit_persona", "group_scores", "kl_to_reference",
           "plateaued", "reference_distributions", "tool_statistics", "with_prompt",
           "write_personas"]
