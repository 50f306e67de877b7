"""Data: the seeded synthetic task suite, user JSONL, the tokenizer and the prompt format.

The task suite is pure Python. ``build_tokenizer`` and ``encode_for_training`` load
transformers/torch, so they are imported on first use.
"""

from runtime.data.calculator import CalculatorError, calculate, run_tool_call
from runtime.data.example import Example, exact_match, normalise_whitespace
from runtime.data.families import TASKS, default_registry
from runtime.data.formatting import format_example, training_text
from runtime.data.jsonl import JsonlError, load_jsonl, save_jsonl
from runtime.data.registry import LEVELS, TaskFamily, TaskRegistry
from runtime.data.splits import SPECIALIST_MIXES, TaskMix, make_split

_LAZY = {"build_tokenizer": "runtime.data.tokenizer",
         "encode_for_training": "runtime.data.encoding"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'runtime.data' has no attribute {name!r}")


__all__ = ["LEVELS", "SPECIALIST_MIXES", "TASKS", "CalculatorError", "Example", "JsonlError",
           "TaskFamily", "TaskMix", "TaskRegistry", "build_tokenizer", "calculate",
           "default_registry", "encode_for_training", "exact_match", "format_example",
           "load_jsonl", "make_split", "normalise_whitespace", "run_tool_call", "save_jsonl",
           "training_text"]
