"""Experts saved beside a model: ``<model dir>/experts/`` (safetensors + JSON only).

- ``experts.json``: format, the expert skills in order, the target matrices, the skills
  the prompt classifier chooses among, the mix merged into the model's weights (its
  weights and the rule that chose it), and each tensor file's sha256;
- ``z.safetensors``: ``<k>/<matrix>`` = expert k's z vector (k = 0, 1, ...);
- ``base.safetensors``: ``<matrix>`` = the base model's target matrix, from which the
  runtime decomposes W = U diag(sigma) V^T again and builds any expert or mix (the model
  beside it holds the merged mix, not the base).

Files are hash-checked before they are read; a damaged or edited one is a ValueError
naming it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

FORMAT = 1
DIRNAME = "experts"
MAX_JSON_BYTES = 4 * 2**20


@dataclass
class ExpertSet:
    """Experts of one model: ``z[k][matrix]`` for expert ``k`` of skill ``skills[k]``.

    Attributes:
        skills: the expert domains, in expert order.
        z: each expert's z vectors.
        base: the base model's target matrices (m, n) by name.
        classifier_skills: the skills the prompt classifier chooses among (experts' skills
            and the others; a prompt classified as one without an expert gets the base).
        mix: the merged mix: ``{"weights": [...], "rule": "..."}``.
    """

    skills: list[str]
    z: list[dict[str, torch.Tensor]]
    base: dict[str, torch.Tensor]
    classifier_skills: list[str]
    mix: dict = field(default_factory=dict)

    @property
    def matrices(self) -> list[str]:
        return list(self.base)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_experts(model_dir: Path, experts: ExpertSet) -> Path:
    """Write ``experts`` into ``model_dir/experts``; returns that directory."""
    from safetensors.torch import save_file

    out = Path(model_dir) / DIRNAME
    out.mkdir(parents=True, exist_ok=True)
    z = {f"{k}/{name}": t.detach().cpu().float().contiguous()
         for k, expert in enumerate(experts.z) for name, t in expert.items()}
    save_file(z, str(out / "z.safetensors"))
    save_file({n: w.detach().cpu().float().contiguous() for n, w in experts.base.items()},
              str(out / "base.safetensors"))
    info = {"format": FORMAT, "skills": experts.skills, "matrices": experts.matrices,
            "classifier_skills": experts.classifier_skills, "mix": experts.mix,
            "sha256": {name: _sha256(out / name) for name in ("z.safetensors", "base.safetensors")}}
    (out / "experts.json").write_text(json.dumps(info, indent=1, sort_keys=True))
    return out


def _read_info(path: Path) -> dict:
    if not path.is_file() or path.stat().st_size > MAX_JSON_BYTES:
        raise ValueError(f"{path}: missing or larger than {MAX_JSON_BYTES} bytes")
    try:
        info = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ValueError(f"{path}: not an experts file of format {FORMAT}")
    for key, kind in (("skills", list), ("matrices", list), ("classifier_skills", list),
                      ("mix", dict), ("sha256", dict)):
        if not isinstance(info.get(key), kind):
            raise ValueError(f"{path}: `{key}` is missing or not a {kind.__name__}")
    return info


def _read_tensors(path: Path, digest: object) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file() or _sha256(path) != digest:
        raise ValueError(f"{path}: missing, or its content does not match experts.json")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{path}: does not load ({err})") from None


def load_experts(model_dir: Path) -> ExpertSet:
    """The experts saved beside the model in ``model_dir``.

    Raises:
        ValueError: no experts there, or a file that is damaged or does not fit the others.
    """
    folder = Path(model_dir) / DIRNAME
    info = _read_info(folder / "experts.json")
    z = _read_tensors(folder / "z.safetensors", info["sha256"].get("z.safetensors"))
    base = _read_tensors(folder / "base.safetensors", info["sha256"].get("base.safetensors"))
    names = [str(n) for n in info["matrices"]]
    experts = []
    for k in range(len(info["skills"])):
        expert = {}
        for name in names:
            key = f"{k}/{name}"
            if key not in z or name not in base or z[key].shape != (min(base[name].shape),):
                raise ValueError(f"{folder / 'z.safetensors'}: expert {k} has no fitting z "
                                 f"vector for {name}")
            expert[name] = z[key]
        experts.append(expert)
    return ExpertSet([str(s) for s in info["skills"]], experts, {n: base[n] for n in names},
                     [str(s) for s in info["classifier_skills"]], info["mix"])


def expert_set(skills: Sequence[str], z: Sequence[Mapping[str, torch.Tensor]],
               base: Mapping[str, torch.Tensor], classifier_skills: Sequence[str],
               mix: dict) -> ExpertSet:
    """An ``ExpertSet`` from plain sequences and mappings (copied)."""
    return ExpertSet(list(skills), [dict(e) for e in z], dict(base), list(classifier_skills),
                     dict(mix))
