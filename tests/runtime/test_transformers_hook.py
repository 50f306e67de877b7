"""``import runtime`` alone lets transformers' Auto classes load our models, without
making ``import runtime`` (or ``forge plan``) import torch or transformers."""

import subprocess
import sys

import pytest

from tests.runtime.phases.kernel_inputs import cognate_input


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_import_runtime_stays_torch_free():
    assert run("import runtime, sys; print('torch' in sys.modules, "
               "'transformers' in sys.modules)") == "False False"


@pytest.mark.parametrize("order", ["runtime first", "transformers first"])
def test_auto_class_loads_cognate_after_import_runtime(tmp_path, order):
    path = cognate_input(tmp_path).path
    imports = ("import runtime\nfrom transformers import AutoModelForCausalLM" if order ==
               "runtime first" else "from transformers import AutoModelForCausalLM\nimport runtime")
    out = run(f"{imports}\nm = AutoModelForCausalLM.from_pretrained({str(path)!r})\n"
              "print(type(m).__name__)")
    assert out.splitlines()[-1] == "TrmTitansMagForCausalLM"


def test_without_import_runtime_the_architecture_is_unknown(tmp_path):
    """The control: the registration above is what makes the difference."""
    path = cognate_input(tmp_path).path
    done = subprocess.run([sys.executable, "-c", "from transformers import AutoModelForCausalLM\n"
                           f"AutoModelForCausalLM.from_pretrained({str(path)!r})"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
