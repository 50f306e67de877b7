"""W002: unused variables and presets are warned about, and do not make a recipe invalid."""

from forgelang import api

SRC = """forge 1
let unused = 3
let used = 4
let threshold = 0.5
preset p { a = 1 }
preset opt { muon_lr = 1e-3 }
recipe "x" { seed = used }
phase cognate { architecture = smoke  seq_len = 64  optimizer = opt }
gate cognate { accuracy >= threshold }
"""


def test_unused_let_and_preset_warned_used_ones_not():
    plan, diags = api.check(text=SRC)
    assert plan is not None and not diags.errors
    warned = {(d.code, d.span.line, d.span.col) for d in diags.items}
    assert warned == {("W002", 2, 5), ("W002", 5, 8)}
