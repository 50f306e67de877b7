"""``forge plan`` on compression: W004 for a stage that would not make its input smaller,
and an estimate that counts only the stages the kernel runs."""

from forgelang import api

HEAD = """forge 1
recipe "x" { seed = 1 }
phase cognate { architecture = smoke  seq_len = 64  models = 1  roles = [general] }
"""
STAGES = "stages = [seedlm { seed_bits = 10 }, vptq { codebook = 16 }]"


def _plan(body: str):
    plan, diags = api.check(text=HEAD + body)
    assert plan is not None and not diags.errors, [d.message for d in diags.items]
    return plan, [d for d in diags.items if d.code == "W004"]


def test_a_stage_larger_than_the_ternary_input_is_warned_about():
    plan, warned = _plan("phase bitnet { }\nphase compression { " + STAGES + " }\n")
    assert len(warned) == 1
    assert "stage 1 (seedlm)" in warned[0].message and "3.25 bits/weight" in warned[0].message
    (step,) = [s for s in plan.steps if s.kind == "compression"]
    assert any("stages run: vptq;" in note for note in step.estimate.notes)


def test_no_warning_on_a_float_input_and_skipped_stages_cost_nothing():
    plan, warned = _plan("phase compression { " + STAGES + " }\n")
    assert warned == []
    ran = [s for s in plan.steps if s.kind == "compression"][0].estimate
    ternary_plan, _ = _plan("phase bitnet { }\nphase compression { " + STAGES + " }\n")
    skipped = [s for s in ternary_plan.steps if s.kind == "compression"][0].estimate
    assert skipped.flops < ran.flops  # the seed search is not counted when it is skipped
