"""Per-prompt expert selection at load: classify each prompt, apply its expert, answer.

    import runtime
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from runtime.svf.router import ExpertRouter

    model = AutoModelForCausalLM.from_pretrained(out_dir)
    router = ExpertRouter(model, AutoTokenizer.from_pretrained(out_dir), out_dir)
    router.select(["What is 3 + 4?"])            # -> ["arithmetic"] (the model's choice)
    with router.applied("arithmetic"):           # that expert's weights, restored after
        model.generate(...)
    router.answer(["What is 3 + 4?"], max_new_tokens=12)  # both, batched per expert

The model directory's own weights are the merged mix; ``applied(None)`` gives the base
model, ``applied("mix")`` the stored mix, ``applied(skill)`` that skill's expert.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch

from runtime.svf.classify import classify
from runtime.svf.decompose import factorise, load_weights, mix, weights_for
from runtime.svf.store import load_experts

MIX = "mix"


class ExpertRouter:
    """A loaded model with its experts (``runtime.svf.store``), selected per prompt.

    Raises:
        ValueError: (on creation) no experts beside the model, or they do not fit it.
    """

    def __init__(self, model, tokenizer, model_dir: Path, batch_size: int = 16):
        from runtime.bitnet.trainable import to_float

        to_float(model)  # a forge_ternary model computes the same in float; experts need it
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
        self.experts = load_experts(model_dir)
        for name, weight in self.experts.base.items():
            try:
                shape = model.get_submodule(name).weight.shape
            except AttributeError:
                shape = None
            if shape != weight.shape:
                raise ValueError(f"{model_dir}: the experts' matrix {name} does not fit the model")
        self.factors = {n: factorise(w) for n, w in self.experts.base.items()}

    def weights(self, choice: str | None) -> dict[str, torch.Tensor]:
        """The target matrices of the base (None), the stored mix (``mix``) or an expert."""
        if choice is None:
            return dict(self.experts.base)
        if choice == MIX:
            alphas = self.experts.mix.get("weights", [0.0] * len(self.experts.z))
            z = mix(self.experts.z, alphas, self.experts.matrices)
        elif choice in self.experts.skills:
            z = self.experts.z[self.experts.skills.index(choice)]
        else:
            raise ValueError(f"no expert {choice!r}; experts: {self.experts.skills}")
        return weights_for(self.factors, z)

    @contextmanager
    def applied(self, choice: str | None) -> Iterator[None]:
        """The model computes with ``choice``'s weights inside the block; the weights it had
        before are put back afterwards."""
        saved = {n: self.model.get_submodule(n).weight.detach().clone() for n in self.factors}
        load_weights(self.model, self.weights(choice))
        try:
            yield
        finally:
            load_weights(self.model, saved)

    def select(self, prompts: Sequence[str]) -> list[str | None]:
        """The expert each prompt gets: the skill the base model classifies it as, or None
        (the base) when that skill has no expert."""
        with self.applied(None):
            picked = classify(self.model, self.tokenizer, prompts,
                              self.experts.classifier_skills, self.batch_size)
        return [p if p in self.experts.skills else None for p in picked]

    def answer(self, prompts: Sequence[str], max_new_tokens: int = 32) -> list[str]:
        """Greedy answers (calculator calls executed) to the questions ``prompts``, each
        with its selected expert, batched per expert."""
        from runtime.data.tokens import SEP
        from runtime.eval import greedy_generate

        choices = self.select(prompts)
        answers: list[str] = [""] * len(prompts)
        for choice in dict.fromkeys(choices):
            index = [i for i, c in enumerate(choices) if c == choice]
            with self.applied(choice):
                done = greedy_generate(self.model, self.tokenizer, [prompts[i] + SEP for i in index],
                                       max_new_tokens, self.batch_size)
            for i, completion in zip(index, done, strict=True):
                answers[i] = completion.prediction
        return answers

