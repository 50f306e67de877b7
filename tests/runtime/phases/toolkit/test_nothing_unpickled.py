"""Nothing in the product unpickles: a pickle left in a workspace is never read."""

from __future__ import annotations

import pickle
import re
import threading
from pathlib import Path

import torch

from runtime.kernels import PhaseContext
from runtime.phases.toolkit.stage import TrainingStage, train_stage

ROOT = Path(__file__).resolve().parents[4]
UNPICKLING = re.compile(r"torch\.load\(|pickle\.loads?\(|weights_only\s*=\s*False|"
                        r"joblib\.load|dill\.load|cloudpickle\.load")


def test_no_source_file_can_unpickle():
    offenders = [str(p.relative_to(ROOT)) for package in ("runtime", "forgelang")
                 for p in sorted((ROOT / package).rglob("*.py"))
                 if UNPICKLING.search(p.read_text(encoding="utf-8"))]
    assert not offenders, f"these files can unpickle: {offenders}"


class _Payload:
    def __reduce__(self):  # what an attacker's checkpoint runs when unpickled
        return (Path.touch, (Path(_Payload.marker),))


def test_a_pickled_checkpoint_in_the_workspace_is_ignored(tmp_path):
    _Payload.marker = str(tmp_path / "pwned")
    for name in ("s.pt", "s.partial.pt", "s.json.pt"):
        (tmp_path / name).write_bytes(pickle.dumps({"model": _Payload()}))
    ctx = PhaseContext(run_id="r", phase="p", kind="k", device="cpu", seed=0, workspace=tmp_path,
                       run_dir=tmp_path, checkpoint_dir=tmp_path, work_dir=tmp_path,
                       stop_event=threading.Event())
    model = torch.nn.Linear(2, 2)
    batch = (torch.zeros(1, 2), torch.zeros(1, 2))

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, input_ids, labels):
            loss = ((self.inner(input_ids) - labels) ** 2).mean()
            return type("Out", (), {"loss": loss})()

    net = Tiny()
    train_stage(ctx, TrainingStage("s", 2, seed=0), net, lambda: (lambda step: batch),
                lambda: torch.optim.SGD(net.parameters(), lr=0.1))
    assert not (tmp_path / "pwned").exists()
