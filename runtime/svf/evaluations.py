"""A checkpointed log of a search's evaluations, replayed on resume.

Both searches of the experts phase (CEM, NSGA-II) are deterministic functions of their
seed and of the results they are told. The log records every (candidate, result) in
order and is saved after each batch (``runtime.checkpoints``: safetensors + JSON,
hash-verified). A resumed search runs again from its seed; while the candidates it asks
for are the ones recorded, the recorded results are handed back instead of evaluating
again, so it reaches the interrupted batch in the same state and continues from there.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from runtime.checkpoints import (
    CheckpointError,
    discard_checkpoint,
    has_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from runtime.kernels import ForgeWarning

Candidate = list[float]
Result = dict[str, float]


class EvaluationLog:
    """Recorded evaluations of one search, saved as checkpoint ``name`` in ``directory``."""

    def __init__(self, directory: Path, name: str):
        self.directory, self.name = Path(directory), name
        self.entries: list[dict] = []
        self.cursor = 0
        self.replayed = 0
        if has_checkpoint(self.directory, name):
            try:
                entries = load_checkpoint(self.directory, name)["entries"]
                self.entries = [{"x": [float(v) for v in e["x"]],
                                 "result": {str(k): float(v) for k, v in e["result"].items()}}
                                for e in entries]
            except (CheckpointError, KeyError, TypeError, ValueError, AttributeError) as err:
                discard_checkpoint(self.directory, name, "bad")
                warnings.warn(f"the {name} search log cannot be used ({err}); the search "
                              "starts again", ForgeWarning, stacklevel=2)
                self.entries = []

    def evaluate(self, candidates: Sequence[Candidate],
                 run: Callable[[list[Candidate]], list[Result]]) -> list[Result]:
        """Results of ``candidates`` in order: recorded ones replayed, the rest ``run`` (one
        call) and recorded; the log is saved when anything new was evaluated."""
        results: list[Result] = []
        fresh: list[Candidate] = []
        for x in candidates:
            x = [float(v) for v in x]
            recorded = self.entries[self.cursor] if self.cursor < len(self.entries) else None
            if not fresh and recorded is not None and recorded["x"] == x:
                results.append(dict(recorded["result"]))
                self.cursor += 1
                self.replayed += 1
            else:
                fresh.append(x)
        if fresh:
            del self.entries[self.cursor:]  # a divergent replay: what follows is not ours
            for x, result in zip(fresh, run(fresh), strict=True):
                self.entries.append({"x": x, "result": {k: float(v) for k, v in result.items()}})
                results.append(dict(self.entries[-1]["result"]))
            self.cursor = len(self.entries)
            save_checkpoint(self.directory, self.name, {"entries": self.entries})
        return results
