"""Loading a kernel's input models: one loader for every stored model form.

An input is a directory: an artifact a phase wrote, or a user's ``dir:`` model. Every
directory loads through ``transformers``' ``from_pretrained`` after ``import runtime.nn``
(which registers the Cognate model with the Auto classes), from local files only, from
safetensors only, never with remote code. A phase that stores weights in a form of its
own plugs it into the same call (``runtime.formats``; docs/runtime.md, "Model formats").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.kernels import InputModel

LOAD_OPTIONS = {"local_files_only": True, "use_safetensors": True, "trust_remote_code": False}


def load_model(path: Path, device: str):
    """The causal LM in ``path``, on ``device``, in eval mode.

    Raises:
        ValueError: the directory does not load (a truncated or damaged weights file, a
            config that does not fit them); the message names the directory.
    """
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM

    import runtime.formats  # noqa: F401  (registers the stored forms phases write)
    import runtime.nn  # noqa: F401  (registers the Cognate model with the Auto classes)

    try:
        model = AutoModelForCausalLM.from_pretrained(path, **LOAD_OPTIONS)
    except (SafetensorError, OSError, ValueError, RuntimeError, KeyError) as err:
        raise ValueError(f"{path}: the model does not load: "
                         f"{str(err).splitlines()[0] if str(err) else type(err).__name__}") from None
    return model.to(device).eval()


def load_tokenizer(path: Path, required: bool = True):
    """The tokenizer saved in ``path``; None when there is none and it is not ``required``.

    Raises:
        ValueError: ``required`` and the directory has no loadable tokenizer.
    """
    from transformers import AutoTokenizer

    if not Path(path).is_dir():  # a directory only: a bare name would be looked up on a hub
        raise ValueError(f"{path} is not a model directory")
    try:  # load options would be written into a re-saved tokenizer_config.json: none given
        return AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError, TypeError) as err:
        if required:
            raise ValueError(f"{path} has no tokenizer that loads ({err}); save one beside "
                             "the weights") from None
        return None


@dataclass
class LoadedInputs:
    """The input models (eval mode, on the device) and the first input's tokenizer."""

    models: list
    tokenizer: Any


def load_inputs(inputs: Sequence[InputModel], device: str, kind: str) -> LoadedInputs:
    """Load every input directory; they must share one architecture.

    Raises:
        ValueError: no inputs, or inputs of different architectures.
    """
    if not inputs:
        raise ValueError(f"{kind} needs at least one input model")
    models = [load_model(i.path, device) for i in inputs]
    classes = {type(m).__name__ for m in models}
    if len(classes) > 1:
        raise ValueError(f"{kind} inputs must share an architecture; got {sorted(classes)}")
    return LoadedInputs(models, load_tokenizer(inputs[0].path))
