"""Run ``forge apply`` in a subprocess with the test-only kernels registered.

Usage: python apply_script.py PLAN.json WORKSPACE [extra apply kwargs as JSON]
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from forge_test_kernels import kernels_for_tests  # noqa: E402

from runtime import commands  # noqa: E402
from runtime.kernels import KERNELS  # noqa: E402

for name in kernels_for_tests().names():
    KERNELS.register(name, kernels_for_tests().get(name))
kwargs = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
sys.exit(commands.apply(sys.argv[1], sys.argv[2], json_events=True, **kwargs))
