"""The suite families each cognate role trains on, and the mix a training stage draws.

Torch-free, so the planner prices each stage on its own mix; ``runtime.data.splits`` and
``runtime.phases.cognate_data`` build their task mixes from the same definitions.
"""

from __future__ import annotations

from collections.abc import Sequence

ROLE_FAMILIES: dict[str, tuple[str, ...]] = {
    "reasoning": ("arithmetic", "word_problems"),
    "memory": ("recall", "copy"),
    "general": ("general",),
}


def stage_weights(role: str | None, replay: float, families: Sequence[str]) -> dict[str, float]:
    """Family weights of a stage: every family equally (``role=None``, the shared
    pre-training), or a role's families plus ``replay`` of every family.

    Replaying a share of every family keeps a specialist near the shared model on the
    other families, which is what lets the phase-2 merges combine specialists.

    Raises:
        ValueError: ``role`` is not a known role.
    """
    if role is None:
        return dict.fromkeys(families, 1.0)
    if role not in ROLE_FAMILIES:
        raise ValueError(f"no task mix for role {role!r}; known: {', '.join(ROLE_FAMILIES)}")
    own = ROLE_FAMILIES[role]
    if replay <= 0:
        return dict.fromkeys(own, 1.0)
    weights = {name: replay / len(families) for name in families}
    for name in own:
        weights[name] = weights.get(name, 0.0) + (1.0 - replay) / len(own)
    return weights
