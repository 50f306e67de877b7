"""Population diversity for merges: mean pairwise cosine distance of weight vectors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch


def _flatten(member) -> torch.Tensor:
    """A state_dict (floating tensors, sorted by name) or a vector as one float64 vector."""
    if isinstance(member, Mapping):
        parts = [member[k].detach().reshape(-1).to(torch.float64)
                 for k in sorted(member) if torch.is_floating_point(member[k])]
        return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)
    return torch.as_tensor(member, dtype=torch.float64).reshape(-1)


def population_diversity(population: Sequence) -> float:
    """Mean pairwise cosine distance (1 - cosine similarity) over the population.

    Each member is a state_dict (its floating-point tensors, concatenated in name order)
    or a flat vector. 0 means every member points the same way; 1 means orthogonal on
    average; up to 2 for opposite vectors. Cosine ignores scale, so a model and a scaled
    copy count as identical.

    Args:
        population: two or more members of the same total size.

    Raises:
        ValueError: fewer than two members, mismatched sizes, or an all-zero member.
    """
    if len(population) < 2:
        raise ValueError("diversity needs at least two members")
    vectors = [_flatten(m) for m in population]
    if len({v.numel() for v in vectors}) != 1:
        raise ValueError("population members have different sizes; they cannot be compared")
    stacked = torch.stack(vectors)  # (P, N)
    norms = stacked.norm(dim=1, keepdim=True)  # (P, 1)
    if bool((norms == 0).any()):
        raise ValueError("a member is all zeros; its direction is undefined")
    unit = stacked / norms
    cosine = unit @ unit.T  # (P, P)
    p = len(vectors)
    upper = torch.triu_indices(p, p, offset=1)
    return float((1.0 - cosine[upper[0], upper[1]]).mean())
