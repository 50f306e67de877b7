"""Model merging: linear, SLERP, task arithmetic, TIES, DARE, FrankenMerge and DFS.

``merge_models`` merges in-memory Hugging Face models; ``merge_directories`` merges model
directories on disk, streaming tensor by tensor. Techniques live in ``MERGES`` (one module
each); formulas and papers are in REFERENCES.md and docs/merging.md.
"""

from runtime.merge import dare, dfs, frankenmerge, linear, slerp, task_arithmetic, ties  # noqa: F401  (registers the techniques)
from runtime.merge.architecture import ARCHITECTURES, Architecture, architecture_of, layer_count
from runtime.merge.directories import merge_directories
from runtime.merge.models import merge_models
from runtime.merge.registry import (
    MERGES,
    LayerMethod,
    LayerSource,
    MergeRegistry,
    TensorMethod,
    resolved_settings,
)
from runtime.merge.request import MergeRequest

__all__ = [
    "ARCHITECTURES",
    "MERGES",
    "Architecture",
    "LayerMethod",
    "LayerSource",
    "MergeRegistry",
    "MergeRequest",
    "TensorMethod",
    "architecture_of",
    "layer_count",
    "merge_directories",
    "merge_models",
    "resolved_settings",
]
