"""The built-in task families and the default registry holding them."""

from runtime.data.families.arithmetic import Arithmetic
from runtime.data.families.general import General
from runtime.data.families.memory import Copy, Recall
from runtime.data.families.persona import Persona
from runtime.data.families.rules import Rules
from runtime.data.families.tool_use import ToolUse
from runtime.data.families.word_problems import WordProblems
from runtime.data.registry import TaskRegistry


def default_registry() -> TaskRegistry:
    """A fresh registry with every built-in family."""
    registry = TaskRegistry()
    for family in (Arithmetic(), WordProblems(), Recall(), Copy(), General(), ToolUse(),
                   Persona(), Rules()):
        registry.register(family)
    return registry


TASKS = default_registry()

__all__ = ["TASKS", "Arithmetic", "Copy", "General", "Persona", "Recall", "Rules", "ToolUse",
           "WordProblems", "default_registry"]
