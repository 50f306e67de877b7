"""Rule-following prompts: a formatting rule plus a question -> the answer obeying it."""

from __future__ import annotations

from collections.abc import Callable

from runtime.data.families.questions import StyledQuestionFamily

# rule id -> (rule text shown in the prompt, how the plain answer must be written)
RULES: dict[str, tuple[str, Callable[[str], str]]] = {
    "upper": ("Always answer in upper case.", str.upper),
    "period": ("End your answer with '.'.", lambda a: f"{a}."),
    "brackets": ("Put your answer in [ ].", lambda a: f"[{a}]"),
    "twice": ("Say your answer twice.", lambda a: f"{a} {a}"),
    "prefix": ("Start your answer with 'A:'.", lambda a: f"A: {a}"),
}


class Rules(StyledQuestionFamily):
    """``"Rule: Always answer in upper case. Q: What color is grass?"`` -> ``"GREEN"``."""

    name = "rules"
    summary = "rule + question -> answer written exactly as the rule says"
    styles = RULES
    prompt_prefix = "Rule: "
    meta_key = "rule"
