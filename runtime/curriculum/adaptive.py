"""The adaptive curriculum as a training-loop batch source, and the objective that
scores the model's own answers on every training batch.

``AdaptiveCurriculum(step)`` serves step ``step``'s batch: new questions at the
controller's current level, or a consolidation round's replayed questions. The
:class:`CurriculumObjective` trains on it and tells the curriculum which rows the model
answered exactly (``runtime.curriculum.scoring.correct_rows`` on the step's own logits:
no extra pass), which updates the rolling accuracy and may move the level for the next
step. Its whole state (controller, buffer, counters) is JSON, checkpointed with the model.

The kernel toolkit (``runtime.phases.toolkit``) is imported inside functions:
importing ``runtime.phases`` registers every kernel, this phase's too, which imports
this module, so a top-level import would be circular.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace

import torch
from torch import nn

from runtime.curriculum.controller import LevelController
from runtime.curriculum.questions import QuestionStream
from runtime.curriculum.replay import NEW, QuestionRef, ReplayBuffer, Step
from runtime.curriculum.scoring import correct_rows


class AdaptiveCurriculum:
    """Batch ``s`` of the phase's step plan; ``observe`` the model's answers to it."""

    def __init__(self, stream: QuestionStream, controller: LevelController,
                 buffer: ReplayBuffer, steps: Sequence[Step]) -> None:
        self.stream, self.controller, self.buffer = stream, controller, buffer
        self.steps = list(steps)
        self.next_step = 0  # the step whose batch is served next
        self.next_index = 0  # new questions served so far
        self.rounds = 0  # replay draws made so far
        self.replayed = 0
        self.replay_hits = 0
        self.levels_trained: list[int] = []  # level of every new-question step, in order
        self.tool_episodes = 0  # new questions that were tool episodes
        self.last_rolling = 0.0  # the rolling accuracy the controller last decided on
        self._serving: tuple[str, list[QuestionRef]] | None = None

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(input_ids, labels)`` (B, T') of step ``step``; steps come in order."""
        from runtime.phases.toolkit.batches import encode_pool, trim_padding

        if step != self.next_step:
            raise RuntimeError(f"the curriculum serves step {self.next_step} next, not {step}")
        plan = self.steps[step]
        if plan.kind == NEW:
            refs = [self.stream.ref(self.next_index + i, self.controller.level)
                    for i in range(plan.count)]
        else:
            refs = self.buffer.sample(plan.count, self.rounds)
        self._serving = (plan.kind, refs)
        examples = [self.stream.example(r) for r in refs]
        input_ids, labels = encode_pool(examples, self.stream.tokenizer, self.stream.seq_len)
        return trim_padding(input_ids, labels)

    def observe(self, correct: Sequence[bool]) -> dict[str, float]:
        """Record the served batch's outcomes; the step's statistics to log."""
        if self._serving is None:
            raise RuntimeError("observe() before a batch was served")
        kind, refs = self._serving
        self._serving = None
        self.next_step += 1
        if kind != NEW:
            self.rounds += 1
            self.replayed += len(refs)
            self.replay_hits += sum(correct)
            return {"dream.batch_accuracy": sum(correct) / len(correct)}
        level = self.controller.level
        self.levels_trained.append(level)
        rolling = self.last_rolling = self.controller.observe(correct)
        self.tool_episodes += sum(r.tool for r in refs)
        for ref in refs:
            self.buffer.add(ref)
        self.next_index += len(refs)
        return {"level": float(level), "rolling_accuracy": rolling,
                "tool.episodes": float(sum(r.tool for r in refs))}

    def state_dict(self) -> dict:
        """Everything a resumed run needs, as JSON values."""
        return {"next_step": self.next_step, "next_index": self.next_index,
                "rounds": self.rounds, "replayed": self.replayed,
                "replay_hits": self.replay_hits, "levels_trained": list(self.levels_trained),
                "tool_episodes": self.tool_episodes, "last_rolling": self.last_rolling,
                "controller": self.controller.state_dict(), "buffer": self.buffer.state_dict()}

    def load_state_dict(self, state: Mapping) -> None:
        """Restore ``state_dict()``'s output."""
        self.controller.load_state_dict(state["controller"])
        self.buffer.load_state_dict(state["buffer"])
        self.next_step, self.next_index = int(state["next_step"]), int(state["next_index"])
        self.rounds, self.replayed = int(state["rounds"]), int(state["replayed"])
        self.replay_hits = int(state["replay_hits"])
        self.levels_trained = [int(x) for x in state["levels_trained"]]
        self.tool_episodes = int(state["tool_episodes"])
        self.last_rolling = float(state["last_rolling"])
        self._serving = None


class CurriculumObjective(nn.Module):
    """The causal LM's loss on a curriculum batch; its answers go to the curriculum."""

    def __init__(self, model: nn.Module, curriculum: AdaptiveCurriculum) -> None:
        super().__init__()
        self.model = model
        self.curriculum = curriculum

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor) -> SimpleNamespace:
        """``loss`` (the LM loss on the answers) and ``stats`` (level, rolling accuracy)."""
        out = self.model(input_ids=input_ids, labels=labels)
        correct = correct_rows(out.logits.detach(), labels)  # (B,)
        stats = self.curriculum.observe(correct.tolist())
        return SimpleNamespace(loss=out.loss, stats=stats)
