"""Teacher-forced greedy scoring and prompt classification on models whose greedy choice
is known."""

from __future__ import annotations

import torch
from torch import nn

from runtime.data import make_split
from runtime.svf.classify import choice_ids, classification_accuracy, classify
from runtime.svf.scoring import accuracy_by_skill, encode_questions, greedy_matches
from tests.runtime.phases.kernel_inputs import suite_tokenizer


class Oracle(nn.Module):
    """Predicts, at each position, a fixed table's next token (a known greedy answer)."""

    def __init__(self, table: torch.Tensor, vocab: int):
        super().__init__()
        self.table, self.vocab = table, vocab  # (N, T) next token at each position
        self.anchor = nn.Parameter(torch.zeros(1))

    def forward(self, input_ids):
        rows = [next(i for i in range(len(self.table))
                     if torch.equal(self.table[i, : input_ids.shape[1]], input_ids[k]))
                for k in range(len(input_ids))]
        nxt = torch.roll(self.table[rows], -1, dims=1)[:, : input_ids.shape[1]]  # (B, T)
        logits = nn.functional.one_hot(nxt, self.vocab).float()  # (B, T, V)
        return type("Out", (), {"logits": logits})()


def test_greedy_matches_is_true_exactly_when_every_answer_token_is_the_argmax():
    tok = suite_tokenizer()
    examples = make_split(["arithmetic", "recall"], 6, 2, "heldout", [1])
    ids, labels = encode_questions(examples, tok)
    model = Oracle(ids.clone(), len(tok))
    assert greedy_matches(model, ids, labels, batch_size=4).all()
    broken = ids.clone()
    answer_pos = int((labels[2] != -100).nonzero()[0])
    broken[2, answer_pos] = (broken[2, answer_pos] + 1) % len(tok)  # the model "thinks" another
    model = Oracle(broken, len(tok))
    hits = greedy_matches(model, broken, labels, batch_size=4)
    assert not hits[2] and hits[[0, 1, 3, 4, 5]].all()
    missed = examples[2].family
    expected = {f: 1.0 for f in ("arithmetic", "recall")}
    expected[missed] = 2 / 3
    assert accuracy_by_skill(examples, hits) == expected


class Picker(nn.Module):
    """Ranks one token highest at every position."""

    def __init__(self, token: int, vocab: int):
        super().__init__()
        self.token, self.vocab = token, vocab
        self.anchor = nn.Parameter(torch.zeros(1))

    def forward(self, input_ids):
        logits = torch.zeros(*input_ids.shape, self.vocab)
        logits[..., self.token] = 1.0
        return type("Out", (), {"logits": logits})()


def test_classification_is_the_choice_the_model_ranks_highest():
    tok = suite_tokenizer()
    skills = ["arithmetic", "word_problems", "recall"]
    ids = choice_ids(tok, 3)
    assert len(set(ids)) == 3
    picked = classify(Picker(ids[2], len(tok)), tok, ["a", "bb", "ccc"], skills, batch_size=2)
    assert picked == ["recall"] * 3
    assert classification_accuracy(picked, ["recall", "arithmetic", "recall"]) == 2 / 3
