"""Byte counts in what ``forge plan`` says about the budget are in human units."""

from __future__ import annotations

import re

from forgelang.kinds.base import Estimate
from forgelang.plan import Plan, Step


def _plan(peak: int, budget: int) -> Plan:
    est = Estimate(params=1, peak_memory_bytes=peak, flops=1.0, seconds=1.0, disk_bytes=1)
    step = Step("a", "cognate", (), {}, 1, "1", "0" * 64, est)
    return Plan("r", "<test>", 1, "cpu", {}, {"memory_bytes": budget, "seconds": None},
                {}, {"type": "local"}, (step,))


def test_over_budget_memory_is_said_in_binary_units():
    [line] = _plan(3 * 2**30, 2**31).over_budget()
    assert re.fullmatch(r"peak memory 3\.\d GiB exceeds budget 2\.0 GiB", line), line
    assert not re.search(r"\d,\d{3}", line)
