"""Merge techniques EvoMerge can use: one pydantic model per technique, keyed by ``type``.

A recipe names them bare (``techniques = [linear, slerp]``, meaning the defaults) or as
typed blocks (``ties { density = 0.2 }``). Formulas and papers: REFERENCES.md.
Notation: base b, inputs theta_k, task vectors tau_k = theta_k - b.
"""

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

from forgelang.registry import Registry


class Technique(BaseModel):
    """Base of every merge technique's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True,
                              validate_by_name=True, validate_by_alias=True,
                              serialize_by_alias=True, defer_build=True)
    type: str


class TechniqueRegistry(Registry[type[Technique]]):
    """Merge technique settings models by name (``register`` as a class decorator)."""

    def __init__(self) -> None:
        super().__init__("merge technique")

    def parse(self, value) -> Technique:
        """A bare name, a ``{"type": ...}`` dict or a Technique -> validated Technique."""
        if isinstance(value, Technique):
            return value
        if isinstance(value, str):
            value = {"type": value}
        if not isinstance(value, dict) or "type" not in value:
            raise ValueError("a merge technique is a name (`ties`) or a typed block "
                             "(`ties { density = 0.2 }`)")
        return self.get(value["type"]).model_validate(value)


TECHNIQUES = TechniqueRegistry()


@TECHNIQUES.register("linear")
class Linear(Technique):
    """Weighted average sum_k w_k theta_k / sum_k w_k (model soups, arXiv:2203.05482)."""

    type: Literal["linear"] = "linear"


@TECHNIQUES.register("slerp")
class Slerp(Technique):
    """Spherical interpolation per tensor of two models; lerp when nearly parallel."""

    type: Literal["slerp"] = "slerp"
    t: float = Field(0.5, ge=0, le=1, description="interpolation factor: 0 = first model, 1 = second")


@TECHNIQUES.register("ties")
class Ties(Technique):
    """TIES (arXiv:2306.01708): trim, elect sign, disjoint mean; b + lambda*tau."""

    type: Literal["ties"] = "ties"
    density: float = Field(0.2, gt=0, le=1, description="fraction of each task vector's entries kept (top magnitudes)")
    lambda_: float = Field(1.0, alias="lambda", ge=0, le=10, description="scale of the merged task vector")


@TECHNIQUES.register("dare")
class Dare(Technique):
    """DARE (arXiv:2311.03099): drop tau entries with probability p, rescale by 1/(1-p)."""

    type: Literal["dare"] = "dare"
    drop: float = Field(0.9, ge=0, lt=1, description="probability p of dropping a task-vector entry")
    combine: Literal["linear", "ties"] = Field("linear", description="how the rescaled task vectors are merged")
    lambda_: float = Field(1.0, alias="lambda", ge=0, le=10, description="scale of the merged task vector")


@TECHNIQUES.register("task_arithmetic")
class TaskArithmetic(Technique):
    """Task arithmetic (arXiv:2212.04089): b + lambda * sum_k w_k tau_k."""

    type: Literal["task_arithmetic"] = "task_arithmetic"
    lambda_: float = Field(1.0, alias="lambda", ge=0, le=10, description="scale of the summed task vectors")


class LayerSlice(Technique):
    """Layers [start, end) of input model ``model`` (0-based), copied verbatim."""

    type: Literal["slice"] = "slice"
    model: int = Field(0, ge=0, le=64, description="index of the input model")
    start: int = Field(0, ge=0, le=1024, description="first layer (inclusive)")
    end: int = Field(1, ge=1, le=1024, description="last layer (exclusive)")

    @model_validator(mode="after")
    def _ordered(self):
        if self.end <= self.start:
            raise ValueError(f"slice end ({self.end}) must be greater than start ({self.start})")
        return self


@TECHNIQUES.register("frankenmerge")
class FrankenMerge(Technique):
    """Passthrough stacking of layer slices, e.g. A[0:6] + B[2:8]."""

    type: Literal["frankenmerge"] = "frankenmerge"
    slices: list[Annotated[LayerSlice, BeforeValidator(lambda v: {"type": "slice", **v}
                                                       if isinstance(v, dict) else v)]] = Field(
        # not `default_factory=list`: pydantic inspects the factory's signature, and a
        # builtin's signature is parsed with tokenize (~7 ms the first time, at every plan)
        default_factory=lambda: [],
        description="fixed slices in order, each `{ model = 0, start = 0, end = 6 }`; "
                    "empty = evolution searches them")
    layers: int | None = Field(None, ge=1, le=1024,
                               description="depth of the result when searched; unset = first input's depth")


@TECHNIQUES.register("dfs")
class Dfs(Technique):
    """Data-flow-space merge (arXiv:2403.13187 section 3.2): a path through repeated layers."""

    type: Literal["dfs"] = "dfs"
    repeats: int = Field(3, ge=1, le=16, description="r: times all layers are laid out (T = M*r slots)")
    scale_matrix: bool = Field(True, description="learn the M x M input-scaling matrix W (W = 1 when off)")
    max_path_layers: int | None = Field(None, ge=1, le=4096,
                                        description="cap on layers in the path; unset = no cap")


def _technique(value):
    return TECHNIQUES.parse(value)


def _dump(technique: Technique) -> dict:
    return technique.model_dump(mode="json")


class _RegisteredTechniques:
    """JSON Schema of a technique field: a registered name or one of the registered models."""

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        models = [TECHNIQUES.get(n) for n in TECHNIQUES.names()]
        return {"anyOf": [{"type": "string", "enum": TECHNIQUES.names()},
                          *(handler(m.__pydantic_core_schema__) for m in models)]}


# A field type: validates via the registry, serialises as the technique's own dict.
TechniqueSpec = Annotated[Technique, BeforeValidator(_technique),
                          PlainSerializer(_dump, return_type=dict), _RegisteredTechniques]
DEFAULT_TECHNIQUES = ("linear", "slerp", "ties", "dare", "frankenmerge", "dfs")
