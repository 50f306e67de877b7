"""What the experts phase records: per-skill scores, experts vs base, the front as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from runtime.svf.decompose import load_weights, weights_for
from runtime.svf.evaluator import active_weights
from runtime.svf.nsga import CHOICE_RULE, OBJECTIVES, Point, objective_vector
from runtime.svf.scoring import accuracy_by_skill, encode_questions, greedy_matches

FRONT_FILE = "pareto_front.json"


def skill_scores(model, tokenizer, questions, batch_size: int) -> dict[str, float]:
    """Teacher-forced greedy exact-match accuracy per skill of ``questions``."""
    hits = greedy_matches(model, *encode_questions(questions, tokenizer), batch_size)
    return accuracy_by_skill(questions, hits)


def with_weights(model, factors, z, fn):
    """``fn()`` with the target matrices of ``z`` loaded; the weights are put back after."""
    saved = {n: model.get_submodule(n).weight.detach().clone() for n in factors}
    load_weights(model, weights_for(factors, z))
    try:
        return fn()
    finally:
        load_weights(model, saved)


def expert_metrics(skill: str, scores: Mapping[str, float],
                   base: Mapping[str, float]) -> dict[str, float]:
    """An expert against the base: per skill, on its own skill, on the others (mean)."""
    out = {f"expert.{skill}.{s}": v for s, v in scores.items()}
    out[f"expert.{skill}.own_gain"] = scores[skill] - base[skill]
    others = [s for s in scores if s != skill]
    if others:
        out[f"expert.{skill}.others_change"] = (sum(scores[s] - base[s] for s in others)
                                                / len(others))
    return out


def front_metrics(front: Sequence[Point], objectives: Sequence[str]) -> dict[str, float]:
    """``pareto.size``, ``pareto.distinct`` (distinct objective vectors: mixes that tie on
    every objective are all non-dominated) and, per objective, the range of its values."""
    out = {"pareto.size": float(len(front)),
           "pareto.distinct": float(len({tuple(objective_vector(p.result, objectives))
                                         for p in front}))}
    for objective in objectives:
        key = OBJECTIVES[objective][0]
        values = [p.result[key] for p in front]
        out[f"pareto.spread.{objective}"] = max(values) - min(values)
    return out


def chosen_metrics(chosen: Point, skills: Sequence[str]) -> dict[str, float]:
    """The chosen point as metrics: its weights and what was measured on it."""
    out = {f"nsga2.chosen.{k}": v for k, v in chosen.result.items()}
    for skill, weight in zip(skills, active_weights(chosen.x), strict=True):
        out[f"nsga2.chosen.weight.{skill}"] = weight
    out["nsga2.chosen.index"] = float(chosen.index)
    return out


def write_front(out_dir: Path, points: Sequence[Point], front: Sequence[Point], chosen: Point,
                skills: Sequence[str], objectives: Sequence[str]) -> Path:
    """``pareto_front.json`` in ``out_dir``: objectives, the front, the choice and its rule,
    and every evaluation (weights as applied, measured values)."""
    def row(p: Point) -> dict:
        return {"index": p.index, "weights": dict(zip(skills, active_weights(p.x), strict=True)),
                "measured": p.result, "objectives": objective_vector(p.result, objectives)}

    data = {"experts": list(skills), "objectives": list(objectives),
            "minimised": [f"{'-' if OBJECTIVES[o][1] < 0 else ''}{OBJECTIVES[o][0]}"
                          for o in objectives],
            "front": [row(p) for p in front], "chosen": row(chosen), "rule": CHOICE_RULE,
            "evaluations": [row(p) for p in points]}
    path = Path(out_dir) / FRONT_FILE
    path.write_text(json.dumps(data, indent=1, sort_keys=True))
    return path
