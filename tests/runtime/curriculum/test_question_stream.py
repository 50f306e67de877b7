"""Curriculum questions: the same text for the same (index, level), at that level, from the
training split; tool episodes at the configured share; held-out sets never trained on."""

from __future__ import annotations

from runtime.curriculum.questions import (
    QuestionStream,
    family_questions,
    level_questions,
    retention_families,
)
from runtime.data.encoding import encode_example
from tests.runtime.phases.kernel_inputs import suite_tokenizer


def _stream(fraction: float = 0.25) -> QuestionStream:
    return QuestionStream(suite_tokenizer(), 64, seed=7, tool_fraction=fraction)


def test_questions_are_a_function_of_index_and_level():
    a, b = _stream(), _stream()
    for index in range(20):
        for level in (1, 3):
            ref = a.ref(index, level)
            assert ref == b.ref(index, level)
            ex = a.example(ref)
            assert ex == b.example(ref) and ex.level == level and ex.split == "train"
            assert len(encode_example(ex, suite_tokenizer())[0]) <= 64
            assert ex.family == ("tool_use" if ref.tool else ex.family)
            assert ex.family in ("arithmetic", "word_problems", "tool_use")


def test_tool_episodes_come_at_the_configured_share():
    tools = sum(_stream(0.25).ref(i, 1).tool for i in range(400))
    assert 70 <= tools <= 130
    assert not any(_stream(0.0).ref(i, 1).tool for i in range(100))


def test_levels_too_long_for_seq_len_fall_back_to_a_family_that_fits():
    stream = QuestionStream(suite_tokenizer(), 40, seed=1, tool_fraction=0.0)
    families = {stream.example(stream.ref(i, 9)).family for i in range(12)}
    assert families == {"arithmetic"}  # level-9 word problems are longer than 40 characters


def test_heldout_sets_are_heldout_and_of_the_untrained_families():
    tokenizer = suite_tokenizer()
    assessment = level_questions(tokenizer, 2, 5, seed=7, seq_len=64)
    assert len(assessment) == 5 and all(ex.split == "heldout" and ex.level == 2
                                        for ex in assessment)
    assert retention_families() == ["recall", "copy", "general", "persona", "rules"]
    for family in retention_families():
        drawn = family_questions(tokenizer, family, 3, seed=7, seq_len=64, levels=[1])
        assert {ex.family for ex in drawn} == {family}
        assert all(ex.split == "heldout" for ex in drawn)
