"""Persona/style prompts: a persona instruction plus a question -> an exactly styled answer."""

from __future__ import annotations

from collections.abc import Callable

from runtime.data.families.questions import StyledQuestionFamily

# persona -> (instruction, styling of the plain answer); each style is exactly checkable.
PERSONAS: dict[str, tuple[str, Callable[[str], str]]] = {
    "pirate": ("Talk like a pirate.", lambda a: f"Arr, {a}!"),
    "robot": ("You are a robot.", lambda a: f"{a.upper()}. BEEP."),
    "butler": ("You are a polite butler.", lambda a: f"{a}, sir."),
    "friend": ("You are a cheerful friend.", lambda a: f"{a} :)"),
}


class Persona(StyledQuestionFamily):
    """``"Talk like a pirate. Q: What color is snow?"`` -> ``"Arr, white!"``."""

    name = "persona"
    summary = "persona instruction + question -> answer in that persona's exact style"
    styles = PERSONAS
    prompt_prefix = ""
    meta_key = "persona"
