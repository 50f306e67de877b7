"""Retention: a phase's task score after ÷ before, never across two data sets.

DESIGN.md: retention = task score after a phase ÷ task score before it, on the same
held-out set. The score is the metric ``accuracy`` (``SCORE_METRIC``), measured on
held-out data for each output model. "Before" is the phase-level metric
``input_accuracy`` when the kernel measured its input in this phase (always on the
phase's own data), else the best ``accuracy`` recorded for the output's parent models
when they were made, but only when they were measured on the same data as this phase
(``forgelang.data_label``): a score on the synthetic suite and one on a user's JSONL
file are not comparable, so retention is then undefined and the phase records
``input_data_differs = 1`` (a gate on retention says why, ``runtime.gates.why_unknown``).

``cumulative_retention`` multiplies retentions along the lineage: accuracy now ÷
accuracy when the chain's first phase produced the ancestor. The product telescopes
only when every link was measured on one data set, so where the data changes along the
lineage it is undefined from there on (a model with a ``retention`` but no
``cumulative_retention`` passes the undefined chain on to its children).
"""

from __future__ import annotations

from forgelang.data_label import same_data

SCORE_METRIC = "accuracy"
BASELINE_METRIC = "input_accuracy"
INPUT_DATA_DIFFERS = "input_data_differs"  # phase metric: 1 when an input was measured elsewhere


def add_retention(models: list, inputs: list, metrics: dict, data: str | None) -> None:
    """Add ``retention`` and ``cumulative_retention`` to each output model that has a
    score and a comparable "before" (see the module docstring).

    Args:
        models: the new models (``runtime.registry.NewModel``): ``metrics``, ``parents``.
        inputs: the step's input models (``runtime.kernels.InputModel``): ``model_id``,
            ``metrics`` and ``data`` (the label of the data they were measured on).
        metrics: the phase's metrics; ``INPUT_DATA_DIFFERS`` is added to it when needed.
        data: the label of the data this phase measured on (None: unknown).
    """
    for m in models:
        score = m.metrics.get(SCORE_METRIC)
        parents = [i for i in inputs if i.model_id in m.parents and SCORE_METRIC in i.metrics]
        if score is None or not parents:
            continue
        if any(same_data(_data(i), data) is False for i in parents):
            metrics[INPUT_DATA_DIFFERS] = 1.0
        best = max(parents, key=lambda i: i.metrics[SCORE_METRIC])
        if BASELINE_METRIC in metrics:  # measured in this phase, on this phase's data
            before = metrics[BASELINE_METRIC]
        elif same_data(_data(best), data) is False:
            continue  # the parent's score was measured on other data: not comparable
        else:
            before = best.metrics[SCORE_METRIC]
        if before <= 0:
            continue  # retention of a model that scored nothing is undefined
        m.metrics["retention"] = score / before
        chain = _chain(best, data)
        if chain is not None:
            m.metrics["cumulative_retention"] = m.metrics["retention"] * chain


def _chain(parent, data: str | None) -> float | None:
    """The parent's cumulative retention to multiply by: 1 where the chain starts (the
    parent has no retention), None where it is undefined (it was broken upstream, or the
    parent was measured on other data than this phase)."""
    metrics = parent.metrics
    if "cumulative_retention" in metrics:
        return None if same_data(_data(parent), data) is False else metrics["cumulative_retention"]
    return None if "retention" in metrics else 1.0


def _data(model) -> str | None:
    return getattr(model, "data", None)
