"""The planner's table of suite example lengths is in sync with the suite, and the expected
trimmed batch length it gives matches the cognate phase's real batches."""

import pytest

from forgelang.kinds import costs
from runtime.data import build_tokenizer
from runtime.data.length_table import TARGET, render_module
from runtime.phases.cognate.sources import SuiteSource


def test_table_in_sync_with_the_suite():
    assert TARGET.read_text() == render_module(), \
        "regenerate with `python -m runtime.data.length_table`"


@pytest.mark.parametrize(("vocab", "levels", "batch", "seq_len", "tolerance"), [
    (512, [1, 2], 16, 64, 0.05),  # tiny.forge
    (512, list(range(1, 11)), 8, 128, 0.05),
    (384, [1], 16, 64, 0.2),  # another byte-level vocabulary splits text a little differently
    (108, [1], 16, 64, 0.05),  # smoke.forge: the character alphabet
])
def test_expected_batch_length_matches_the_phase_batches(vocab, levels, batch, seq_len, tolerance):
    stream = SuiteSource(build_tokenizer(vocab, 7), seq_len, levels).stream(None, 0.0, 60, batch, 11)
    actual = sum(stream(i)[0].shape[1] for i in range(60)) / 60
    expected = costs.suite_batch_length(levels, batch, seq_len, vocab)
    assert expected == pytest.approx(actual, rel=tolerance)


@pytest.mark.parametrize("role", ["reasoning", "memory", "general"])
@pytest.mark.parametrize(("vocab", "levels"), [(512, [1, 2]), (108, [1])])
def test_each_specialist_stage_is_priced_at_its_own_mix(vocab, levels, role):
    """A specialist draws mostly its role's families (plus replay), whose examples are
    shorter or longer than the shared mix's: tiny's memory batches are ~20% shorter."""
    from forgelang.kinds.suite_roles import stage_weights
    from runtime.data import TASKS

    stream = SuiteSource(build_tokenizer(vocab, 7), 64, levels).stream(role, 0.1, 80, 16, 11)
    actual = sum(stream(i)[0].shape[1] for i in range(80)) / 80
    weights = stage_weights(role, 0.1, TASKS.names())
    assert costs.suite_batch_length(levels, 16, 64, vocab, weights) == pytest.approx(actual,
                                                                                     rel=0.05)


def test_expected_batch_length_properties():
    one = costs.suite_batch_length([1], 1, 64)
    assert one < costs.suite_batch_length([1], 4, 64) < costs.suite_batch_length([1], 32, 64)
    assert costs.suite_batch_length(list(range(1, 11)), 64, 40) <= 40  # longer ones are skipped
    assert costs.suite_batch_length([10], 16, 3) == 3.0  # nothing fits: the full length
