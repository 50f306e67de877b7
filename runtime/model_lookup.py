"""Which model a command-line MODEL names, and where it lives (torch-free).

``forge generate`` and ``forge export`` take one MODEL argument:

- a directory (written with a path separator, ``./name``, ``~/name`` or ``/abs/name``; a
  bare name is a directory only when nothing in the registry matches it);
- a registry id (``forge models``' first column);
- a phase name of the last run (the model that phase made or reused);
- a prefix of a model's sha256.

A registry model lives in ``WORKSPACE/artifacts/<sha256>/``, verified before it is used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from runtime.artifacts import ARTIFACTS_DIR, ArtifactError, ArtifactStore
from runtime.registry import ModelRegistry
from runtime.registry_errors import RegistryError

WEIGHT_SUFFIX = ".safetensors"


class ModelNotFound(RuntimeError):
    """MODEL names nothing usable; the message says why and what to do."""


@dataclass(frozen=True)
class FoundModel:
    """A model directory and, for a registry model, its registry entry.

    Attributes:
        path: the directory that loads with ``from_pretrained``.
        label: how to name it to people (``model 3 (bitnet)`` or the directory).
        entry: the registry's JSON of the model (``id``, ``sha256``, ``metrics``, ``phase``,
            ``run_id`` ...); empty for a plain directory.
    """

    path: Path
    label: str
    entry: dict = field(default_factory=dict)


def artifact_path(workspace: Path, sha256: str) -> Path | None:
    """Where the artifact ``sha256`` lives in ``workspace`` (None: no artifact store there)."""
    if not (Path(workspace) / ARTIFACTS_DIR).is_dir():
        return None
    try:
        return ArtifactStore(workspace).path(sha256)
    except ArtifactError:
        return None


def check_model_dir(path: Path, shown: str | None = None) -> Path:
    """``path`` if it holds a model (``config.json`` and safetensors weights); errors name
    it as ``shown`` (what the user wrote) when given.

    Raises:
        ModelNotFound: not a directory, or one without a model in it.
    """
    name = shown or str(path)
    if not path.is_dir():
        raise ModelNotFound(f"{name} is not a directory")
    if not (path / "config.json").is_file():
        raise ModelNotFound(f"{name} holds no model: there is no config.json in it")
    if not any(p.suffix == WEIGHT_SUFFIX for p in path.iterdir()):
        raise ModelNotFound(f"{name} holds no model: there are no .safetensors weights in it")
    return path


def _looks_like_path(ref: str) -> bool:
    return os.sep in ref or "/" in ref or ref.startswith((".", "~"))


def find_model(ref: str, workspace: Path) -> FoundModel:
    """The model that ``ref`` names (see the module docstring).

    Raises:
        ModelNotFound: nothing matches, the prefix is ambiguous, the phase made several
            models, or the artifact is missing or corrupt.
    """
    ref = ref.strip()
    if not ref:
        raise ModelNotFound("MODEL is empty: give a registry id, a sha256 prefix, a phase "
                            "name of the last run or a directory")
    if _looks_like_path(ref):
        return FoundModel(check_model_dir(Path(ref).expanduser(), ref), ref)
    entry = _registry_entry(ref, workspace) if ModelRegistry.exists(workspace) else None
    if entry is None:
        if Path(ref).is_dir():
            return FoundModel(check_model_dir(Path(ref), ref), ref)
        where = workspace if ModelRegistry.exists(workspace) else f"{workspace} (no registry)"
        raise ModelNotFound(f"no model {ref!r}: not a registry id, a phase of the last run, a "
                            f"sha256 prefix in {where}, nor a directory (see `forge models`)")
    try:
        path = ArtifactStore(workspace).verify(entry["sha256"])
    except ArtifactError as e:
        raise ModelNotFound(str(e)) from None
    return FoundModel(path, f"model {entry['id']} ({entry['phase']})", entry)


def _registry_entry(ref: str, workspace: Path) -> dict | None:
    """The registry's JSON of the model ``ref`` names, or None when nothing matches."""
    with ModelRegistry(workspace, create=False) as registry:
        phase = _last_run_phase(registry, ref)
        if phase is not None:
            return _one_model_of(phase, ref)
        try:
            row = registry.find_model(ref)
        except RegistryError as e:
            if "ambiguous" in str(e):
                raise ModelNotFound(str(e)) from None
            return None
        return next(m for m in registry.models() if m["id"] == row["id"])


def _last_run_phase(registry: ModelRegistry, name: str) -> dict | None:
    """The phase ``name`` of the newest run (with its models), or None."""
    if registry.latest_run_id() is None:
        return None
    run = registry.show(None)
    phase = next((p for p in run["phases"] if p["name"] == name), None)
    return None if phase is None else {**phase, "run_id": run["run_id"]}


def _one_model_of(phase: dict, name: str) -> dict:
    """The single model a phase made; several or none is a ``ModelNotFound``."""
    models = phase["models"]
    if not models:
        raise ModelNotFound(f"phase `{name}` of the last run ({phase['run_id']}) has no model "
                            f"(it is {phase['status']}); see `forge show`")
    if len(models) > 1:
        listed = ", ".join(f"{m['id']} ({m['role']})" for m in models)
        raise ModelNotFound(f"phase `{name}` of the last run made {len(models)} models: "
                            f"{listed}; name one by its id")
    return {**models[0], "phase": name, "kind": phase["kind"], "run_id": phase["run_id"]}
