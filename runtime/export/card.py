"""The model card (``README.md``) of an exported model: only what the registry recorded.

Lineage, the metrics measured on the model, the data and evaluation settings of the phase
that measured them, and the run and recipe that made it, all read from the workspace
registry; a plain directory has no record, and its card says so. No number in a card is
anything but a registry value or one measured during the export.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from runtime.registry import ModelRegistry

USAGE = """\
```python
from transformers import AutoModelForCausalLM, AutoTokenizer

model = AutoModelForCausalLM.from_pretrained("{dir}"{remote})
tokenizer = AutoTokenizer.from_pretrained("{dir}"{remote})
# the chat template is the task format the model was trained on (prompt + <|sep|>)
ids = tokenizer.apply_chat_template([{{"role": "user", "content": "What is 12 + 30?"}}],
                                    add_generation_prompt=True, return_tensors="pt",
                                    return_dict=True)
out = model.generate(**ids, max_new_tokens=32, do_sample=False)
print(tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
```
"""


@dataclass
class CardFacts:
    """What the card states. ``entry`` is the registry's model JSON (empty: no record)."""

    source: str
    entry: dict = field(default_factory=dict)
    lineage: dict | None = None
    recipe: str = ""
    phase_params: dict = field(default_factory=dict)
    final_metrics: dict = field(default_factory=dict)  # values recorded without a step
    curves: list[str] = field(default_factory=list)  # names recorded per step
    notes: list[str] = field(default_factory=list)  # the stored form, measured differences


def registry_facts(workspace: Path, source: str, entry: dict) -> CardFacts:
    """The card's facts for a registry model (``entry``), read from the registry."""
    facts = CardFacts(source=source, entry=entry)
    if not entry:
        return facts
    with ModelRegistry(workspace, create=False) as registry:
        facts.lineage = registry.lineage(entry["id"])
        run = registry.show(facts.lineage["run_id"])
        facts.final_metrics, facts.curves = registry.final_model_metrics(entry["id"])
    facts.recipe = run["recipe"]
    phase = next((p for p in run["phases"] if p["name"] == facts.lineage["phase"]), None)
    facts.phase_params = phase["params"] if phase else {}
    return facts


def _lineage_lines(node: dict, depth: int = 0) -> list[str]:
    acc = node["metrics"].get("accuracy")
    score = "" if acc is None else f", accuracy {acc:.4f}"
    lines = [f"{'  ' * depth}- model {node['id']}: phase `{node['phase']}` ({node['kind']}), "
             f"role {node['role']}, run {node['run_id']}, sha256 {node['sha256'][:12]}{score}"]
    for parent in node["parents"]:
        lines += _lineage_lines(parent, depth + 1)
    return lines


def _metrics_section(facts: CardFacts) -> list[str]:
    metrics = facts.final_metrics
    if not metrics:
        return ["No final metrics were recorded for this model."]
    lines = ["| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value:.6g} |" for name, value in sorted(metrics.items())]
    if facts.curves:
        lines += ["", f"Also recorded per training step (in the workspace registry's metrics "
                      f"table): {', '.join(facts.curves)}."]
    measured_on = {k: facts.phase_params[k] for k in ("data", "eval") if k in facts.phase_params}
    where = (json.dumps(measured_on, sort_keys=True) if measured_on else
             "the phase has no `data` or `eval` parameter, and the registry does not record "
             "which data it measured on")
    return lines + ["", f"Final values phase `{facts.lineage['phase']}` recorded for the model; "
                        f"the phase's data and evaluation settings: {where}."]


def render_card(facts: CardFacts, title: str, remote_code: bool) -> str:
    """The README.md text."""
    from forgelang import __version__

    head = ["---", "library_name: transformers", "tags:", "- agent-forge", "---", "",
            f"# {title}", "", f"Exported by Agent Forge {__version__} (`forge export`) from "
            f"{facts.source}."]
    if facts.entry:
        e, node = facts.entry, facts.lineage
        head += ["", f"Made by phase `{node['phase']}` ({node['kind']}) of run {node['run_id']}"
                 f" (recipe {facts.recipe or 'unknown'}); registry model {e['id']}, role "
                 f"{e['role']}, {e['params']:,} parameters, stored artifact sha256 "
                 f"{e['sha256']}.", "", "## Lineage", "", *_lineage_lines(node), "",
                 "## Measured metrics", "", *_metrics_section(facts)]
    else:
        head += ["", "This directory has no record in a workspace registry: no lineage or "
                 "metrics are known."]
    if facts.notes:
        head += ["", "## Stored form", "", *facts.notes]
    remote = ", trust_remote_code=True" if remote_code else ""
    head += ["", "## Use", "", ("Needs transformers and torch; the model's code is in this "
             "directory (`trust_remote_code=True`). With Agent Forge installed, `import "
             "runtime` loads it without remote code." if remote_code else
             "A standard transformers architecture."), "", USAGE.format(dir=".", remote=remote)]
    return "\n".join(head)
