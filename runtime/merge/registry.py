"""The registry of merge techniques (``MERGES``) and the two shapes a technique can take.

A *tensor method* (linear, slerp, task_arithmetic, ties, dare) computes each output tensor
from the inputs' tensors of the same name, so it can stream a checkpoint tensor by tensor.
A *layer method* (frankenmerge, dfs) chooses which input layers make up the result and how
each is scaled; its weights are copied, never mixed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from forgelang.kinds.techniques import TECHNIQUES
from forgelang.registry import Registry

if TYPE_CHECKING:
    import torch

    from runtime.merge.request import MergeRequest

# (request, settings, tensor name, inputs' float32 tensors) -> float32 tensor
TensorFn = Callable[["MergeRequest", dict, str, "Sequence[torch.Tensor]"], "torch.Tensor"]


class LayerSource(NamedTuple):
    """One layer of a layer-method result: ``layer`` of input ``model``, residual scaled."""

    model: int
    layer: int
    scale: float = 1.0


# (request, settings, depth of each input) -> the result's layers, in order
LayerFn = Callable[["MergeRequest", dict, Sequence[int]], list[LayerSource]]


@dataclass(frozen=True)
class TensorMethod:
    """A same-shape technique: every output tensor from the inputs' tensors of that name.

    Attributes:
        merge: The per-tensor function (float32 in, float32 out).
        min_models: Fewest inputs it accepts.
        max_models: Most inputs it accepts (None = any).
    """

    merge: TensorFn
    min_models: int = 1
    max_models: int | None = None


@dataclass(frozen=True)
class LayerMethod:
    """A layer-path technique: the result's layers are input layers copied (and scaled)."""

    path: LayerFn


Method = TensorMethod | LayerMethod


class MergeRegistry(Registry[Method]):
    """Merge implementations (TensorMethod or LayerMethod) by technique name."""

    def __init__(self) -> None:
        super().__init__("merge technique")


MERGES = MergeRegistry()


def resolved_settings(request: MergeRequest) -> dict[str, Any]:
    """The request's settings validated by forgelang's technique model, defaults filled in.

    One source of truth for names, ranges and defaults (e.g. TIES density 0.2): the same
    pydantic model that checks recipes. Raises ValueError for unknown or out-of-range settings.
    """
    MERGES.get(request.technique)  # unknown technique: the registry's message
    model = TECHNIQUES.get(request.technique)
    data = {k: v for k, v in request.settings.items() if k != "slices"}
    technique = model.model_validate({**data, "type": request.technique})
    dumped = technique.model_dump(mode="json", by_alias=True)
    return {k: v for k, v in dumped.items() if k not in ("type", "slices")}
