"""Genome -> ``MergeRequest``: what the merge library is asked to build, from which inputs."""

from __future__ import annotations

from runtime.evolution.genome import INPUT, Genome, runs_of
from runtime.evolution.space import WEIGHTED, GenomeSpace


def dfs_path(space: GenomeSpace, g: Genome) -> tuple[tuple[tuple[int, int], ...], tuple[float, ...]]:
    """(path, scales) of a DFS genome: the on slots in order, W of each consecutive pair.

    With ``max_path_layers`` set, only that many slots with the largest indicator stay
    on (in path order). The first entry follows the embeddings, so its scale is 1.
    """
    slots = space.dfs_slots()
    on = [i for i, v in enumerate(g.indicator) if v > 0]
    cap = space.technique("dfs").max_path_layers
    if cap is not None and len(on) > cap:
        keep = sorted(on, key=lambda i: -g.indicator[i])[:cap]
        on = sorted(keep)
    path = tuple(slots[i] for i in on)
    scales = [1.0]
    for (pm, pl), (cm, cl) in zip(path, path[1:], strict=False):
        scales.append(g.scales[space.global_layer(pm, pl)][space.global_layer(cm, cl)])
    return path, tuple(scales)


def used_inputs(space: GenomeSpace, g: Genome, base: str = "mean") -> tuple[int, ...]:
    """The input indices a genome's result is made from (its parents in the lineage).

    FrankenMerge and DFS results carry input 0's embeddings and head, so 0 is always one;
    task-vector techniques also depend on their base b (every input for ``mean``, input 0
    for ``first``), whatever the weights.
    """
    if g.technique in (INPUT, "slerp"):
        return tuple(sorted(set(g.members)))
    if g.technique == "frankenmerge":
        return tuple(sorted({0} | {m for m, _ in g.layers}))
    if g.technique == "dfs":
        return tuple(sorted({0} | {m for m, _ in dfs_path(space, g)[0]}))
    weighted = {i for i, w in enumerate(g.weights) if w > 0}
    if g.technique != "linear":
        weighted |= set(range(len(g.weights))) if base == "mean" else {0}
    return tuple(sorted(weighted))


def to_request(space: GenomeSpace, g: Genome, base: str, seed: int):
    """The ``(MergeRequest, input indices to pass in order)`` of a merge genome.

    Raises:
        ValueError: for the ``input`` pseudo-technique (nothing to merge).
    """
    from runtime.merge import MergeRequest

    everyone = tuple(range(len(space.depths)))
    if g.technique == INPUT:
        raise ValueError("an `input` genome is an input model, not a merge")
    if g.technique == "slerp":
        return MergeRequest("slerp", g.settings, base=base, seed=seed), g.members
    if g.technique == "frankenmerge":
        return MergeRequest("frankenmerge", g.settings, base=base, slices=runs_of(g.layers),
                            seed=seed), everyone
    if g.technique == "dfs":
        path, scales = dfs_path(space, g)
        return MergeRequest("dfs", g.settings, base=base, path=path, scales=scales,
                            seed=seed), everyone
    if g.technique not in WEIGHTED:
        raise ValueError(f"no genome decoding for technique {g.technique!r}")
    return MergeRequest(g.technique, g.settings, weights=g.weights, base=base,
                        seed=seed), everyone
