"""What a documented example may assume exists before it runs.

``<!-- example: setup=NAME -->`` before a block runs ``SETUPS[NAME](folder)`` first (in the
document's folder) and gives a python block the names it returns; ``<!-- example: models="DIR=KIND ..." -->`` saves
a seeded smoke model of KIND (``cognate`` or ``llama``, with the suite tokenizer) in each
DIR first. Everything is seeded and smoke-sized (~50k parameters), so examples take
seconds; the folder is the document's working folder (a copy of recipes/ is in it).
"""

from __future__ import annotations

from pathlib import Path


def save_model(directory: Path, kind: str) -> None:
    """A seeded smoke model of ``kind`` and the suite tokenizer, saved in ``directory``."""
    from tests.runtime.phases.kernel_inputs import INPUTS

    if kind not in INPUTS:
        raise ValueError(f"unknown model kind {kind!r} in a models= marker: {sorted(INPUTS)}")
    directory.mkdir(parents=True, exist_ok=True)
    INPUTS[kind](directory)


def smoke_model(folder: Path) -> dict:
    """``model`` (a seeded smoke Cognate model), ``tokenizer`` (the suite's), ``examples``
    (4 held-out level-1 arithmetic examples) and ``input_ids`` (a (2, 8) batch of them)."""
    import torch

    from runtime.data import make_split
    from runtime.phases.toolkit.inputs import load_model, load_tokenizer
    from tests.runtime.phases.kernel_inputs import cognate_input

    path = cognate_input(folder / "smoke-model").path
    model, tokenizer = load_model(path, "cpu"), load_tokenizer(path)
    examples = make_split(["arithmetic"], 4, 0, "heldout", levels=[1])
    ids = [tokenizer(e.prompt + "<|sep|>")["input_ids"][:8] for e in examples[:2]]
    width = min(len(i) for i in ids)
    input_ids = torch.tensor([i[:width] for i in ids])  # (B, T)
    return {"model": model, "tokenizer": tokenizer, "examples": examples, "input_ids": input_ids}


def two_models(folder: Path) -> dict:
    """``model_a`` and ``model_b``: two seeded smoke Cognate models, also saved in ./a, ./b
    (the same architecture, different seeds, as merges need)."""
    import torch

    from runtime.phases.toolkit.inputs import load_model

    out = {}
    for seed, name in ((0, "a"), (1, "b")):
        save_model(folder / name, "cognate")
        torch.manual_seed(seed)
        model = load_model(folder / name, "cpu")
        with torch.no_grad():  # a different model in b: perturb the seed-0 weights
            for p in model.parameters():
                p.add_(0.01 * seed * torch.randn_like(p))
        model.save_pretrained(folder / name)
        out[f"model_{name}"] = model
    return out


def thinker(folder: Path) -> dict:
    """``smoke_model``'s names and ``path``: a smoke Cognate model with a fresh mixing head
    saved there (what a quietstar phase writes), 2 tokens per thought."""
    from runtime.thoughts.head import MixingHead
    from runtime.thoughts.model import ThoughtfulLM, hidden_size
    from runtime.thoughts.tokens import thought_tokens

    names = smoke_model(folder)
    model, tokenizer = names["model"], names["tokenizer"]
    path = folder / "path" / "to" / "quietstar-output"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    head = MixingHead(hidden_size(model), 16)
    ThoughtfulLM(model, head, thought_tokens(tokenizer, 2)).save_thoughts(path)
    return {**names, "path": str(path)}


SMOKE_RUN_SETS = ("cognate.pretrain_steps=2", "cognate.steps=1", "cognate.eval.examples=4",
                  "cognate.eval.max_new_tokens=2", "evomerge.population=3",
                  "evomerge.generations=1", "evomerge.eval.examples=4",
                  "evomerge.eval.max_new_tokens=2")


def smoke_run(folder: Path) -> dict:
    """A workspace (./.forge) holding one run of the smoke recipe's cognate and evomerge
    phases at the smallest scale (seconds), for examples that use a run's models."""
    import contextlib
    import io

    from forgelang.cli import main

    args = ["apply", "recipes/smoke.forge", "--only", "cognate,evomerge"]
    args += [x for s in SMOKE_RUN_SETS for x in ("--set", s)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(args)
    if code != 0:
        raise RuntimeError(f"setup smoke-run: forge apply exited {code}:\n{out.getvalue()[-1500:]}")
    return {}


def my_data(folder: Path) -> dict:
    """``mine.jsonl``: 200 ``{"prompt", "answer", "family"}`` lines standing for your own
    data (20 of them in the held-out share), for examples with ``data = "mine.jsonl"``."""
    from runtime.data import make_split, save_jsonl

    lines = make_split(["arithmetic"], 180, 0, "train", levels=[1]) + \
        make_split(["arithmetic"], 20, 0, "heldout", levels=[1])
    save_jsonl(lines, folder / "mine.jsonl")
    return {}


SETUPS = {"smoke-model": smoke_model, "two-models": two_models, "thinker": thinker,
          "smoke-run": smoke_run, "my-data": my_data}
