"""A workspace whose registry holds real models: a smoke Cognate model (phase ``cognate``)
and its ternary form (phase ``bitnet``, parent the first), stored as artifacts."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

from runtime.artifacts import ArtifactStore, directory_bytes, safetensors_params
from runtime.registry import ModelRegistry, NewModel
from tests.runtime.phases.kernel_inputs import cognate_input

RUN_ID = "20261203-150000-a1b2c3"
RECIPE = "recipes/mine.forge"


def _step(name: str, kind: str, params: dict) -> dict:
    return {"name": name, "kind": kind, "cache_key": f"key-{name}", "params": params,
            "seed": 7, "estimate": {}}


@functools.lru_cache(maxsize=1)
def _models(root: Path) -> tuple[Path, Path]:
    """The Cognate directory and its forge_ternary directory (built once a session)."""
    from transformers import AutoModelForCausalLM

    import runtime  # noqa: F401  (registers the Cognate model and the stored forms)
    from runtime.formats.ternary import save_ternary

    cognate = cognate_input(root / "cognate").path
    model = AutoModelForCausalLM.from_pretrained(cognate)
    from runtime.phases.toolkit.inputs import load_tokenizer

    save_ternary(model, load_tokenizer(cognate), root / "ternary")
    return cognate, root / "ternary"


def model_dirs(tmp_path_factory) -> tuple[Path, Path]:
    """The two model directories, shared by a test session."""
    return _models(tmp_path_factory.getbasetemp() / "model-dirs")


def _record(registry, store, prid: int, path: Path, role: str, parents=(),
            metrics=None, series=()) -> int:
    sha = store.put_dir(path)
    model = NewModel(sha, role, safetensors_params(path), directory_bytes(path),
                     tuple(parents), metrics or {}, tuple(series))
    return registry.complete_phase_run(prid, [model], {}, 1_000_000, 0.5)[0]


def build_workspace(ws: Path, cognate: Path, ternary: Path) -> dict[str, int]:
    """Record a two-phase run making both models; returns their registry ids by phase."""
    store = ArtifactStore(ws)
    with ModelRegistry(ws) as registry:
        registry.create_session(RUN_ID, {"phases": []}, RECIPE)
        registry.record_event(RUN_ID, "run_started", {"steps": ["cognate", "bitnet"]})
        prid = registry.start_phase_run(RUN_ID, _step("cognate", "cognate",
                                                      {"data": "suite"}), 0)
        first = _record(registry, store, prid, cognate, "champion",
                        metrics={"accuracy": 0.125})
        prid = registry.start_phase_run(RUN_ID, _step("bitnet", "bitnet", {}), 1)
        second = _record(registry, store, prid, ternary, "ternary", parents=(first,),
                         metrics={"accuracy": 0.0625},
                         series=(("loss", 2.5, 1), ("loss", 2.25, 2)))
        registry.finish_session(RUN_ID, "completed")
    return {"cognate": first, "bitnet": second}


def copy_model(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target
