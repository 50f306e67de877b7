"""A phase whose `data` is a JSONL file measures on that file's held-out lines, the same
lines the cognate phase measures on (issue 21: one dataset through the pipeline)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from runtime.data import build_tokenizer
from runtime.data.example import Example
from runtime.data.jsonl import save_jsonl
from runtime.data.jsonl_heldout import jsonl_heldout
from runtime.phases.cognate.sources import JsonlSource
from runtime.phases.toolkit.draws import heldout_examples


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer(128, seed=0)


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "mine.jsonl"
    save_jsonl([Example(f"{a}+{a}=", str(2 * a), "arithmetic") for a in range(400)], path)
    return path


def test_only_held_out_lines_fitting_the_context_are_drawn(data, tokenizer):
    drawn = jsonl_heldout(data, tokenizer, 10, seed=3, seq_len=64)
    assert len(drawn) == 10 and all(ex.split == "heldout" for ex in drawn)
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    assert {ex.prompt for ex in drawn} <= {row["prompt"] for row in rows}
    assert drawn == jsonl_heldout(data, tokenizer, 10, seed=3, seq_len=64)  # seeded
    assert drawn != jsonl_heldout(data, tokenizer, 10, seed=4, seq_len=64)
    everything = jsonl_heldout(data, tokenizer, 10_000, seed=3, seq_len=64)
    assert 10 < len(everything) < 400 and all(ex.split == "heldout" for ex in everything)


def test_it_is_the_set_the_cognate_phase_measures_on(data, tokenizer):
    source = JsonlSource(data, tokenizer, 64)
    assert jsonl_heldout(data, tokenizer, 12, 5, 64) == source.heldout(12, 5, [1])


def test_the_toolkit_draws_from_the_phases_data(data, tokenizer):
    cfg = SimpleNamespace(examples=8, levels=[1, 2])
    from_file = heldout_examples(tokenizer, cfg, 1, 64, str(data))
    assert from_file == jsonl_heldout(data, tokenizer, 8, 1, 64)
    suite = heldout_examples(tokenizer, cfg, 1, 64)
    assert not {ex.prompt for ex in suite} & {ex.prompt for ex in from_file}
    assert all(ex.family != "arithmetic" or ex.level in (1, 2) for ex in suite)


def test_a_file_without_a_fitting_held_out_line_says_so(tmp_path, tokenizer):
    path = tmp_path / "few.jsonl"
    train = [ex for ex in (Example(f"{a}+1=", str(a + 1), "arithmetic") for a in range(50))
             if ex.split == "train"]
    save_jsonl(train[:3], path)  # no held-out line at all
    with pytest.raises(ValueError, match="held out"):
        jsonl_heldout(path, tokenizer, 4, 0, 64)
