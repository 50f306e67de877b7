"""forgelang: the .forge recipe language — parse, validate, format, compile and plan.

This package never imports torch or transformers: planning must stay fast and run
anywhere. Execution lives in the sibling package ``runtime``.
"""

__version__ = "0.1.0"
LANGUAGE_VERSION = 1
