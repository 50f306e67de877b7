"""``forge generate`` and ``forge export``: using a model a run made.

Each returns the process exit code: 0 done, 2 when the model or the target is refused
(unknown, ambiguous, missing or corrupt, a directory without a model, a non-empty export
directory); the error is one line on stderr, never a traceback.
"""

from __future__ import annotations

import json as json_lib
import sys
from pathlib import Path

from runtime.artifacts import ArtifactError
from runtime.faults import FAULTS, describe_fault
from runtime.model_lookup import ModelNotFound, find_model
from runtime.registry import RegistryError, workspace_path
from runtime.registry_schema import SchemaError

REFUSED = (ModelNotFound, RegistryError, SchemaError, ArtifactError, ValueError)


def _fail(message: str) -> int:
    sys.stderr.write(f"error: {message}\n")
    return 2


def _quiet_transformers() -> None:
    """No "Loading weights" progress bars around a command's one line of output."""
    from transformers.utils import logging

    logging.disable_progress_bar()


def generate(workspace=None, model: str = "", prompt: str = "", max_new_tokens: int = 64,
             json: bool = False, raw: bool = False, device: str = "cpu") -> int:
    """``forge generate MODEL PROMPT``: print the model's greedy answer to ``prompt``."""
    from runtime.generate import generate as run_generate

    ws = workspace_path(workspace)
    try:
        found = find_model(model, ws)
        _quiet_transformers()
        out = run_generate(found.path, prompt, max_new_tokens, device, raw)
    except REFUSED as e:
        return _fail(str(e))
    except FAULTS as e:
        return _fail(describe_fault(e, ws))
    if json:
        sys.stdout.write(json_lib.dumps({
            "model": found.label, "path": str(found.path), "model_id": found.entry.get("id"),
            "prompt": prompt, "input": out.input_text, "answer": out.answer,
            "transcript": out.transcript, "tool_calls": out.tool_calls}, indent=2) + "\n")
    else:
        sys.stdout.write(out.answer + "\n")
        if not out.answer.strip():  # a blank line alone would look like a failure
            sys.stderr.write(f"note: the answer is empty; the model wrote {out.transcript!r}\n")
    return 0


def export(workspace=None, model: str = "", out_dir: Path | str = "", json: bool = False) -> int:
    """``forge export MODEL DIR``: a standalone transformers directory with a model card."""
    from runtime.export import export_model
    from runtime.export.remote_code import RemoteCodeError
    from runtime.export.writer import ExportError

    ws = workspace_path(workspace)
    try:
        found = find_model(model, ws)
        _quiet_transformers()
        result = export_model(found, Path(out_dir), ws)
    except (*REFUSED, ExportError, RemoteCodeError) as e:
        return _fail(str(e))
    except FAULTS as e:
        return _fail(describe_fault(e, ws))
    if json:
        sys.stdout.write(json_lib.dumps({
            "model": found.label, "source": str(found.path), "out_dir": str(result.out_dir),
            "stored_form": result.stored_form, "max_logit_diff": result.max_logit_diff,
            "code_files": result.code_files}, indent=2) + "\n")
        return 0
    print(f"exported {found.label} to {result.out_dir}")
    if result.stored_form:
        print(f"  stored as {result.stored_form}: written as float weights (largest |logit "
              f"difference| on the probe prompt: {result.max_logit_diff:.3g}); see its README.md")
    if result.code_files:
        print("  model code saved beside the weights: loads with trust_remote_code=True "
              "without Agent Forge")
    return 0
