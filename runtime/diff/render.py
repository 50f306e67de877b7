"""``forge diff``'s console output: rich tables of what ``compare.diff_runs`` found.

The console shows what moved: parameters that differ, then per phase the figures that
changed (how many stayed equal is said in one line), models and gates. ``--json``
carries every figure, equal or not.
"""

from __future__ import annotations

from forgelang.humanize import human_bytes
from runtime.diff.compare import moved
from runtime.report.format import number, seconds_text

SHA_CHARS = 12


def print_diff(console, result: dict) -> None:
    """Print the comparison (all registry text printed with markup off)."""
    from rich.table import Table

    for side in ("a", "b"):
        s = result[side]
        where = f" in {s['workspace']}" if s["workspace"] else ""
        console.print(f"{side.upper()}: run {s['run_id']} [{s['status']}] {s['recipe']}{where}",
                      markup=False, soft_wrap=True)
    _parameters(console, result["parameters"], Table)
    for phase in result["phases"]:
        _phase(console, phase, Table)
    _models(console, result["models"], Table)
    _gates(console, result["gates"], Table)


def _parameters(console, changes: list[dict], Table) -> None:
    if not changes:
        console.print("\nparameters: the same in both plans", markup=False)
        return
    table = _table(Table, f"parameters that differ ({len(changes)})", "parameter", "A", "B")
    for c in changes:
        table.add_row(_plain(c["key"]), _plain(_absent(c["a"])), _plain(_absent(c["b"])))
    console.print(table)


def _absent(value) -> str:
    return "(absent)" if value is None else value


def _phase(console, phase: dict, Table) -> None:
    rows = [r for r in phase["metrics"] if moved(r)]
    same = len(phase["metrics"]) - len(rows)
    status = f"A {phase['status_a'] or 'absent'}, B {phase['status_b'] or 'absent'}"
    title = f"{phase['phase']} ({status})"
    if phase["status_a"] is None or phase["status_b"] is None:  # nothing to compare with
        side = "B" if phase["status_a"] is None else "A"
        console.print(f"\n{title}: {len(rows)} figures in {side} only (--json lists them)",
                      markup=False, soft_wrap=True)
        return
    if not rows:
        console.print(f"\n{title}: {same} figures, all equal", markup=False, soft_wrap=True)
        return
    table = _table(Table, title, "metric", "A", "B", "change", "%")
    if same:
        table.caption, table.caption_justify = f"{same} more figures equal", "left"
    for r in rows:
        table.add_row(_plain(r["name"]), _value(r["name"], r["a"]), _value(r["name"], r["b"]),
                      _signed(r["name"], r["change"]), _percent(r["relative"]))
    console.print(table)


def _value(name: str, value) -> str:
    if value is None:
        return "-"
    if name.endswith("seconds"):
        return seconds_text(value)
    if name.endswith("bytes"):
        return human_bytes(value)
    return number(value)


def _signed(name: str, change) -> str:
    if change is None:
        return "-"
    sign = "+" if change >= 0 else "-"
    return sign + _value(name, abs(change))


def _percent(relative) -> str:
    return "-" if relative is None else f"{relative:+.1%}"


def _models(console, rows: list[dict], Table) -> None:
    if not rows:
        return
    table = _table(Table, "models", "phase", "role", "A sha256", "B sha256", "same")
    for r in rows:
        table.add_row(_plain(r["phase"]), _plain(r["role"]), _sha(r["sha256_a"]),
                      _sha(r["sha256_b"]), "yes" if r["same"] else "no")
    console.print(table)


def _sha(sha) -> str:
    return "-" if sha is None else _plain(str(sha)[:SHA_CHARS])


def _gates(console, rows: list[dict], Table) -> None:
    if not rows:
        return
    table = _table(Table, "gates", "after phase", "gate", "A", "B")
    for r in rows:
        table.add_row(_plain(r["phase"]), _plain(r["expression"]),
                      _verdict(r["passed_a"], r["value_a"]), _verdict(r["passed_b"], r["value_b"]))
    console.print(table)


def _verdict(passed, value) -> str:
    if passed is None:
        return "-"
    return f"{'passed' if passed else 'FAILED'} ({number(value)})"


def _table(Table, title: str, *columns: str):
    """A table whose cells wrap (``fold``) rather than being cut off at the width."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _plain(text) -> object:
    """Registry text as a rich Text: never parsed as markup (``[red]`` stays literal)."""
    from rich.text import Text

    return Text(str(text))
