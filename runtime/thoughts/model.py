"""A language model with its thoughts: the mixing head saved beside the weights.

A quietstar output directory is an ordinary model directory (``AutoModelForCausalLM``
loads the language model from it, thoughts off) plus two files:

- ``quietstar.json``: format, version, thought length, marker ids, head shape, temperature;
- ``quietstar.safetensors``: the mixing head's weights.

:meth:`ThoughtfulLM.from_pretrained` loads both; its ``generate`` answers greedily with a
thought before every token (``mode`` picks a control instead), so the evaluation harness
(``runtime.eval.evaluate``) scores it with thoughts on; the plain model scores it off.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from runtime.thoughts.decode import MODES, decode
from runtime.thoughts.head import MixingHead
from runtime.thoughts.tokens import ThoughtTokens, thought_tokens

CONFIG, WEIGHTS = "quietstar.json", "quietstar.safetensors"
FORMAT, VERSION = "forge_quietstar", 1
MAX_CONFIG_BYTES = 64 * 1024


class ThoughtfulLM(nn.Module):
    """``lm`` + ``head``; ``generate`` decodes with thoughts (see ``runtime.thoughts.decode``)."""

    def __init__(self, lm, head: MixingHead, tokens: ThoughtTokens, temperature: float = 1.0,
                 mode: str = "thoughts", seed: int = 0):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown thought mode {mode!r}; expected one of {MODES}")
        self.lm, self.head, self.tokens = lm, head, tokens
        self.temperature, self.mode, self.seed = temperature, mode, seed

    def save_thoughts(self, directory: str | Path) -> None:
        """Write ``quietstar.json`` and ``quietstar.safetensors`` into ``directory``."""
        from safetensors.torch import save_file

        directory = Path(directory)
        config = {"format": FORMAT, "version": VERSION, "thought_tokens": self.tokens.length,
                  "start_id": self.tokens.start, "end_id": self.tokens.end,
                  "d_model": self.head.d_model, "hidden": self.head.hidden,
                  "temperature": self.temperature}
        (directory / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        save_file({k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()},
                  str(directory / WEIGHTS))

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str = "cpu", **options) -> ThoughtfulLM:
        """The model in ``directory`` with its mixing head; ``options`` go to ``__init__``."""
        from runtime.phases.toolkit.inputs import load_model, load_tokenizer

        directory = Path(directory)
        config = read_config(directory)
        tokenizer = load_tokenizer(directory)
        tokens = thought_tokens(tokenizer, config["thought_tokens"])
        if (tokens.start, tokens.end) != (config["start_id"], config["end_id"]):
            raise ValueError(f"{directory / CONFIG}: its thought marker ids differ from the "
                             "tokenizer's")
        lm = load_model(directory, device)
        head = load_head(directory, config, lm).to(device)
        options.setdefault("temperature", config["temperature"])
        return cls(lm, head, tokens, **options)

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, max_new_tokens: int = 16, eos_token_id=None,
                 pad_token_id: int | None = None, **_ignored) -> torch.Tensor:
        """Greedy decoding with thoughts: ``(B, T + new)``, padded after each stop token."""
        stops = eos_token_id if isinstance(eos_token_id, list | tuple) else [eos_token_id]
        pad = pad_token_id if pad_token_id is not None else self.lm.config.pad_token_id or 0
        new = decode(self.lm, self.head, self.tokens, input_ids.tolist(),
                     max_new_tokens=max_new_tokens, stop_ids=[s for s in stops if s is not None],
                     pad_id=pad, mode=self.mode, temperature=self.temperature, seed=self.seed)
        width = max(len(n) for n in new)
        out = torch.full((len(new), width), pad, dtype=torch.long)
        for i, tokens in enumerate(new):
            out[i, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        return torch.cat([input_ids.cpu(), out], dim=1).to(input_ids.device)


def has_thoughts(directory: str | Path) -> bool:
    """Whether ``directory`` carries a mixing head."""
    return (Path(directory) / CONFIG).is_file()


def read_config(directory: Path) -> dict:
    """``quietstar.json``, checked (it is untrusted input).

    Raises:
        ValueError: missing, not a regular file, too large, not this format, or a field
            out of range.
    """
    from forgelang.files import read_regular

    path = directory / CONFIG
    try:
        config = json.loads(read_regular(path, MAX_CONFIG_BYTES))
    except OSError as err:  # missing, not a regular file, larger than MAX_CONFIG_BYTES
        raise ValueError(f"{path}: {err}") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT or config.get("version") != VERSION:
        raise ValueError(f"{path} is not a {FORMAT} v{VERSION} file")
    for name, low, high in (("thought_tokens", 1, 256), ("start_id", 0, 10**7), ("end_id", 0, 10**7),
                            ("d_model", 1, 1 << 16), ("hidden", 1, 1 << 16)):
        value = config.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"{path}: {name} must be an integer in {low}..{high}, got {value!r}")
    temperature = config.get("temperature")
    if (isinstance(temperature, bool) or not isinstance(temperature, int | float)
            or not 0 < temperature <= 10):
        raise ValueError(f"{path}: temperature must be in (0, 10], got {temperature!r}")
    return config


def hidden_size(lm) -> int:
    """Width of ``lm``'s final hidden state (the LM head's input)."""
    return int(lm.get_output_embeddings().weight.shape[1])


def load_head(directory: Path, config: dict, lm) -> MixingHead:
    """The mixing head of ``directory`` for ``lm`` (safetensors; shapes checked against the
    config, and the config against ``lm``'s hidden size)."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    if config["d_model"] != hidden_size(lm):
        raise ValueError(f"{directory / CONFIG}: the mixing head reads {config['d_model']}-wide "
                         f"hidden states, the model's are {hidden_size(lm)} wide")
    head = MixingHead(config["d_model"], config["hidden"])
    path = directory / WEIGHTS
    expected = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    try:  # shapes from the header first: an oversized file is refused before it is read
        with safe_open(str(path), framework="pt") as f:
            stored = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (OSError, SafetensorError) as err:
        raise ValueError(f"{path}: {err}") from None
    if stored != expected:
        raise ValueError(f"{path} does not hold a mixing head of {expected}")
    head.load_state_dict(load_file(str(path)))
    return head
