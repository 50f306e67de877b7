"""``forge report`` and ``forge diff`` as plain functions returning the exit code.

Like ``runtime.commands``: torch-free, errors a user can cause are one line on stderr
with exit code 2, and output is rich text (or JSON with ``json=True``).
"""

from __future__ import annotations

import re
from pathlib import Path

from runtime.commands import _console, _fail, _open, _print_json
from runtime.faults import FAULTS, describe_fault
from runtime.registry import RegistryError, workspace_path
from runtime.registry_schema import SchemaError

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def report(workspace=None, run: str | None = None, out=None) -> int:
    """``forge report [RUN] [--out FILE]``: a run (default: the newest) as one HTML file.

    Without ``--out`` the file is ``report-<run>.html`` in the current directory; an
    ``--out`` that is a directory gets that name inside it.

    Returns:
        0 when the report was written; 2 when the run cannot be read or the file written.
    """
    try:
        import jinja2  # noqa: F401  (imported late by the writer: fail here, before reading)
        import matplotlib  # noqa: F401
    except ImportError as e:
        return _fail(f"forge report needs {e.name or 'a missing package'}: "
                     "pip install matplotlib jinja2")
    from runtime.report import write_report

    data, code = _gather(workspace, run, lineage=True)
    if data is None:
        return code
    target = _target(out, data.run_id)
    try:
        write_report(data, target)
    except OSError as e:
        return _fail(f"cannot write the report to {target}: {e.strerror or e}")
    _console().print(f"wrote {target} (run {data.run_id}, {data.run['status']})",
                     markup=False, soft_wrap=True)
    return 0


def _target(out, run_id: str) -> Path:
    """Where the report goes: ``out``, inside ``out`` when it is a directory, or cwd."""
    name = f"report-{_UNSAFE.sub('_', run_id)[:100]}.html"
    if out is None:
        return Path(name)
    out = Path(out).expanduser()
    return out / name if out.is_dir() else out


def _gather(workspace, run, lineage: bool):
    """``(RunData, None)``, or ``(None, exit code)`` after printing why it failed."""
    from runtime.report import gather

    try:
        with _open(workspace) as registry:
            return gather(registry, run, lineage=lineage), None
    except (RegistryError, SchemaError) as e:
        return None, _fail(str(e))
    except FAULTS as e:
        return None, _fail(describe_fault(e, workspace_path(workspace)))


def diff(run_a: str, run_b: str, workspace_a=None, workspace_b=None,
         json: bool = False) -> int:
    """``forge diff RUN_A RUN_B``: parameters that differ, then metrics and models per phase.

    ``workspace_b`` defaults to ``workspace_a``: two runs of one workspace.

    Returns:
        0 when both runs were read; 2 when either cannot be.
    """
    from runtime.diff import diff_runs, print_diff

    a, code = _gather(workspace_a, run_a, lineage=False)
    if a is None:
        return code
    b, code = _gather(workspace_b if workspace_b is not None else workspace_a, run_b,
                      lineage=False)
    if b is None:
        return code
    result = diff_runs(a, b)
    if json:
        _print_json(result)
    else:
        print_diff(_console(), result)
    return 0
