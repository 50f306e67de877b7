"""The loop's history: one record per finished iteration, checkpointed with the model.

After each iteration the model's weights and every record so far are saved as checkpoint
``iterations`` (``runtime.checkpoints``: safetensors + JSON, hash-verified), replacing the
previous one, so a phase killed at any moment resumes after its last finished iteration
with the same weights and the same schedule. A checkpoint that fails verification or no
longer fits (written by other code) is set aside with a warning and the loop starts over.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import asdict, dataclass, field

from runtime.checkpoints import (
    CheckpointError,
    discard_checkpoint,
    has_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from runtime.kernels import ForgeWarning, PhaseContext

CHECKPOINT = "iterations"
CYCLE_IDS = {"a": 0.0, "b": 1.0}  # the ``cycle`` metric's values


@dataclass(frozen=True)
class Iteration:
    """One finished iteration of the loop.

    Attributes:
        number: 1, 2, ...
        cycle: ``a`` (tool use) or ``b`` (personas).
        score: the cycle's score of the model it started with (A: tool accuracy; B: the
            best persona's score).
        kl: KL of the model after the iteration's bake to the phase's input.
        bake: the bake's ``bake.*`` metrics.
        tool: A: ``calls``, ``call_rate`` (and ``valid``) of the scored episodes.
        persona: B: the persona baked.
        candidates: B: every persona written, with its score, in writing order.
        baseline: B: the persona episodes' score with no persona in front.
    """

    number: int
    cycle: str
    score: float
    kl: float
    bake: dict[str, float]
    tool: dict[str, float] = field(default_factory=dict)
    persona: str | None = None
    candidates: list[tuple[str, float]] = field(default_factory=list)
    baseline: float | None = None

    def metrics(self) -> dict[str, float]:
        """The iteration's metrics, logged with ``step = number``."""
        out = {"cycle": CYCLE_IDS[self.cycle], "score": self.score, "kl": self.kl,
               f"{self.cycle}_cycle.score": self.score, **self.bake}
        out.update({f"tool.{k}": v for k, v in self.tool.items()})
        if self.cycle == "b":
            out["persona.score"] = self.score
            out["b_cycle.baseline"] = self.baseline
            out.update({f"persona.{k}.score": s for k, (_, s) in enumerate(self.candidates)})
        return out

    def to_json(self) -> dict:
        """A JSON-ready dict (candidates as lists)."""
        data = asdict(self)
        data["candidates"] = [[text, score] for text, score in self.candidates]
        return data

    @classmethod
    def from_json(cls, data: dict) -> Iteration:
        """The record ``to_json`` wrote; ValueError/TypeError/KeyError on anything else."""
        if data["cycle"] not in CYCLE_IDS:
            raise ValueError(f"unknown cycle {data['cycle']!r}")
        candidates = [(str(text), float(score)) for text, score in data["candidates"]]
        persona = data["persona"]
        return cls(number=int(data["number"]), cycle=data["cycle"], score=float(data["score"]),
                   kl=float(data["kl"]), bake={str(k): float(v) for k, v in data["bake"].items()},
                   tool={str(k): float(v) for k, v in data["tool"].items()},
                   persona=None if persona is None else str(persona), candidates=candidates,
                   baseline=None if data["baseline"] is None else float(data["baseline"]))


def save_history(ctx: PhaseContext, model, history: list[Iteration]) -> None:
    """Checkpoint the model and the records after a finished iteration."""
    save_checkpoint(ctx.checkpoint_dir, CHECKPOINT,
                    {"model": model.state_dict(), "history": [it.to_json() for it in history]})


def load_history(ctx: PhaseContext, model) -> list[Iteration]:
    """The records of the finished iterations, their weights loaded into ``model``; [] when
    none finished (or the checkpoint cannot be used: set aside with a warning)."""
    if not has_checkpoint(ctx.checkpoint_dir, CHECKPOINT):
        return []
    before = copy.deepcopy(model.state_dict())
    try:
        state = load_checkpoint(ctx.checkpoint_dir, CHECKPOINT)
        history = [Iteration.from_json(item) for item in state["history"]]
        if [it.number for it in history] != list(range(1, len(history) + 1)):
            raise ValueError("iterations are not numbered 1, 2, ...")
        model.load_state_dict(state["model"])
        return history
    except (CheckpointError, KeyError, RuntimeError, TypeError, ValueError, AttributeError) as err:
        model.load_state_dict(before)
        discard_checkpoint(ctx.checkpoint_dir, CHECKPOINT, "bad")
        why = str(err).splitlines()[0] if str(err) else type(err).__name__
        warnings.warn(f"{ctx.phase}: the checkpoint of the finished iterations cannot be used "
                      f"({why}); the loop starts again", ForgeWarning, stacklevel=2)
        return []
