"""What the evomerge kernel prepares before searching: inputs, held-out data, fitness."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from forgelang.expressions import ExpressionError, evaluate
from runtime.kernels import InputModel


@dataclass
class LoadedInputs:
    """The input models (eval mode, on the device) and the first input's tokenizer."""

    models: list
    tokenizer: Any
    depths: tuple[int, ...]


def load_inputs(inputs: Sequence[InputModel], device: str) -> LoadedInputs:
    """Load every input directory with ``from_pretrained``; depths via ``runtime.merge``.

    Raises:
        ValueError: no inputs, or inputs of different architectures.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import runtime.nn  # noqa: F401  (registers the Cognate model with the Auto classes)
    from runtime.merge import layer_count

    if not inputs:
        raise ValueError("evomerge needs at least one input model")
    models = [AutoModelForCausalLM.from_pretrained(i.path).to(device).eval() for i in inputs]
    kinds = {type(m).__name__ for m in models}
    if len(kinds) > 1:
        raise ValueError(f"evomerge inputs must share an architecture; got {sorted(kinds)}")
    tokenizer = AutoTokenizer.from_pretrained(inputs[0].path)
    return LoadedInputs(models, tokenizer, tuple(layer_count(m) for m in models))


def fitness_function(source: str) -> Callable[[dict], float]:
    """The recipe's ``fitness`` expression as ``metrics -> float``.

    Parsed once with the gate-condition parser (the same expression language); each
    call evaluates it on measured metrics.

    Raises:
        ValueError: (when called) a metric the expression names was not measured, or the
            expression does not give a number.
    """
    from runtime.gates import parse_condition

    expr = parse_condition(source)

    def fitness(metrics: dict) -> float:
        try:
            value = evaluate(expr, metrics)
        except ExpressionError as e:
            known = ", ".join(sorted(metrics))
            raise ValueError(f"fitness `{source}` cannot be evaluated: {e} "
                             f"(measured: {known})") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"fitness `{source}` gives {value!r}, not a number")
        return float(value)

    return fitness
