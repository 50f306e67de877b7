"""Write an export directory: weights, tokenizer, the model's code and the card."""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from runtime.export.card import registry_facts, render_card
from runtime.export.float_weights import stored_form
from runtime.export.remote_code import write_remote_code
from runtime.model_lookup import FoundModel

COGNATE_TYPE = "trm_titans_mag"  # runtime.nn.config.MODEL_TYPE (kept torch-free here)
PROBE = "What is 12 + 30?"  # the prompt the float export is compared on
REWRITTEN = ("config.json", "generation_config.json", "model.safetensors.index.json")


class ExportError(RuntimeError):
    """The export cannot be written where it was asked to go."""


@dataclass(frozen=True)
class ExportResult:
    """What ``export_model`` wrote.

    Attributes:
        out_dir: the export directory.
        stored_form: the ``quant_method`` of the form turned into float weights, or None
            when the weights were copied as they are.
        max_logit_diff: for a float export, the largest |logit difference| from the stored
            form on ``PROBE``, measured; None otherwise.
        code_files: the model's code files written (empty for a standard architecture).
    """

    out_dir: Path
    stored_form: str | None = None
    max_logit_diff: float | None = None
    code_files: list[str] = field(default_factory=list)


def _target(out_dir: Path) -> Path:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ExportError(f"{out_dir} exists and is not an empty directory; choose a new one")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return out_dir


def export_model(found: FoundModel, out_dir: Path, workspace: Path) -> ExportResult:
    """Export ``found`` into ``out_dir`` (new, or empty), written aside and renamed in place.

    Raises:
        ExportError: ``out_dir`` is not new or empty, or lies inside the model's directory.
        ValueError: the model does not load (for a stored form that must be converted).
    """
    if Path(out_dir).resolve().is_relative_to(found.path.resolve()):
        raise ExportError(f"{out_dir} is inside the model directory {found.path}; export "
                          "somewhere else")
    out_dir = _target(Path(out_dir))
    staging = out_dir.parent / f".{out_dir.name}.tmp-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        form = stored_form(found.path)
        diff = None if form is None else _write_float(found.path, staging)
        if form is None:
            _copy_files(found.path, staging, skip=())
        config = json.loads((staging / "config.json").read_text(encoding="utf-8"))
        code = write_remote_code(staging) if config.get("model_type") == COGNATE_TYPE else []
        facts = registry_facts(workspace, found.label, found.entry)
        facts.notes = [] if form is None else [_form_note(form, diff)]
        (staging / "README.md").write_text(render_card(facts, out_dir.name, bool(code)),
                                           encoding="utf-8")
        if out_dir.exists():
            out_dir.rmdir()  # empty, checked above
        staging.rename(out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return ExportResult(out_dir, None if form is None else form["quant_method"], diff, code)


def _copy_files(source: Path, target: Path, skip: tuple[str, ...]) -> None:
    """Copy the model directory's files (not ``skip``, never a README of its own)."""
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_file() and rel.as_posix() not in skip and rel.as_posix() != "README.md":
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / rel)


def _write_float(source: Path, target: Path) -> float:
    """Write the float form of the stored model in ``source``; returns the measured largest
    |logit difference| between the two on ``PROBE``."""
    import torch

    from runtime.export.float_weights import float_model
    from runtime.generate import format_prompt
    from runtime.phases.toolkit.inputs import load_model, load_tokenizer

    stored = load_model(source, "cpu")
    plain = float_model(stored)
    plain.save_pretrained(target)
    weights = {p.relative_to(source).as_posix() for p in source.rglob("*.safetensors")}
    _copy_files(source, target, skip=REWRITTEN + tuple(weights))
    tokenizer = load_tokenizer(source, required=False)
    if tokenizer is not None:
        ids = tokenizer(format_prompt(tokenizer, PROBE), return_tensors="pt")["input_ids"]
    else:
        ids = torch.arange(min(8, plain.config.vocab_size)).unsqueeze(0)  # (1, T)
    with torch.no_grad():
        return float((stored(ids).logits - plain(ids).logits).abs().max())


def _form_note(form: dict, diff: float) -> str:
    method, bits = form["quant_method"], form.get("activation_bits")
    activation = (f" The stored layers also quantise their inputs to {bits} bits per token; "
                  "these float layers do not." if bits else "")
    return (f"The workspace stores this model as `{method}`, a form only Agent Forge loads. "
            "This export holds float weights instead: each stored layer's weight as the layer "
            f"computes with it (dequantised), so it is larger on disk.{activation} Largest "
            f"|logit difference| between the stored form and this export on the prompt "
            f"{PROBE!r}, measured during the export: {diff:.3g}.")
