"""Prompt baking: put a prompt's effect into a model's weights (phases 3, 5 and 6).

- ``bake``: :func:`bake_prompt` / :func:`bake_prompts` (sequential), :class:`BakeResult`;
- ``trajectories``: sampling from the prompted, frozen teacher, its cached distributions;
- ``kl``: the token-level KL loss;
- ``lora``: LoRA adapters as weight parametrizations (why not peft: see its docstring);
- ``train``: the optimiser and the step loop;
- ``effect``: how much of a prompt's measured effect a baked model recovers.

See docs/baking.md.
"""

from runtime.baking.bake import BakeResult, bake_prompt, bake_prompts
from runtime.baking.kl import mean_kl, token_kl
from runtime.baking.lora import Adapters, attach_adapters, detach_adapters, merge_adapters
from runtime.baking.trajectories import Trajectories, prompted, sample_trajectories

__all__ = ["Adapters", "BakeResult", "Trajectories", "attach_adapters", "bake_prompt",
           "bake_prompts", "detach_adapters", "mean_kl", "merge_adapters", "prompted",
           "sample_trajectories", "token_kl"]
