"""``forge graph``: the phase DAG as Graphviz dot or Mermaid."""

from __future__ import annotations

from forgelang.plan import EXTERNAL_PREFIX, Plan


def _node_id(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def _label(name: str) -> str:
    return name[len(EXTERNAL_PREFIX):] if name.startswith(EXTERNAL_PREFIX) else name


def to_dot(plan: Plan) -> str:
    lines = [f'digraph "{plan.recipe}" {{', "  rankdir=LR;", "  node [shape=box];"]
    for s in plan.steps:
        lines.append(f'  {_node_id(s.name)} [label="{s.name}\\n({s.kind})"];')
        for i in s.inputs:
            if i.startswith(EXTERNAL_PREFIX):
                lines.append(f'  {_node_id(i)} [label="{_label(i)}", shape=folder];')
            lines.append(f"  {_node_id(i)} -> {_node_id(s.name)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(plan: Plan) -> str:
    lines = ["flowchart LR"]
    for s in plan.steps:
        lines.append(f'  {_node_id(s.name)}["{s.name} ({s.kind})"]')
        for i in s.inputs:
            if i.startswith(EXTERNAL_PREFIX):
                lines.append(f'  {_node_id(i)}[/"{_label(i)}"/]')
            lines.append(f"  {_node_id(i)} --> {_node_id(s.name)}")
    return "\n".join(lines) + "\n"
