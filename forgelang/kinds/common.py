"""Parameter blocks that several kinds share: data source, held-out evaluation, prompt baking."""

from typing import Annotated

from pydantic import AfterValidator, Field

from forgelang.data_files import SUITE, data_value
from forgelang.kinds.base import Params

# `suite` or a .jsonl path (the rest of the rule: forgelang.data_files). A phase that
# does not set it uses the recipe's `data` (forgelang.compiler), else the suite.
DataSource = Annotated[str, AfterValidator(data_value)]


def data_field(description: str = "training data"):
    """Field for a data source: the synthetic suite or a JSONL file path."""
    return Field(SUITE, description=f"{description}: `suite` (synthetic, seeded) or a .jsonl path")


Levels = list[Annotated[int, Field(ge=1, le=10)]]


def levels_field(description: str):
    """Field for task-suite difficulty levels: a non-empty list of 1-10, default all ten."""
    return Field(default_factory=lambda: list(range(1, 11)), min_length=1,
                 description=description)


class EvalConfig(Params):
    """Held-out evaluation: greedy decoding on examples the phase never trains on.

    Cognate models have no KV cache (the recursion recomputes the prefix), so the
    estimate counts every generated token as a forward over the whole prefix.
    """

    examples: int = Field(128, ge=1, le=1_000_000, description="held-out examples per evaluation")
    prompt_tokens: int = Field(48, ge=1, le=65_536, description="typical prompt length, tokens")
    max_new_tokens: int = Field(16, ge=1, le=4096, description="tokens generated per answer")
    batch_size: int = Field(32, ge=1, le=4096, description="examples decoded together")
    levels: Levels = levels_field("difficulty levels (1-10) of the held-out task-suite examples")

    def forward_tokens(self) -> int:
        """Token positions run through the model by one evaluation (no KV cache)."""
        g, p = self.max_new_tokens, self.prompt_tokens
        return self.examples * (g * p + g * (g + 1) // 2)


class BakeConfig(Params):
    """Prompt baking (Bhargava et al., arXiv:2409.13697): KL(P(.|prompt) || P_baked(.)).

    The student (no prompt) trains LoRA adapters (AdamW, lr 1e-3: see docs/baking.md) on
    trajectories sampled from the prompted, frozen teacher.
    """

    steps: int = Field(100, ge=0, le=1_000_000, description="optimiser steps per bake")
    trajectories: int = Field(32, ge=1, le=100_000,
                              description="trajectories sampled from the prompted teacher per bake")
    trajectory_tokens: int = Field(32, ge=1, le=4096, description="tokens per sampled trajectory")
    batch_size: int = Field(8, ge=1, le=4096, description="trajectories per optimiser step")
    lora_rank: int = Field(8, ge=1, le=1024, description="rank of the LoRA adapters trained")
    strength: float = Field(1.0, gt=0, le=1,
                            description="fraction of the baked weight delta applied (1 = full bake)")


def eval_field():
    """Field for the held-out evaluation block."""
    return Field(default_factory=EvalConfig, description="held-out evaluation sizes")
