"""``forge export``: a registry model (or a model directory) as a standalone transformers
directory with a model card.

- plain weights are copied byte for byte; a form of this package's own
  (``runtime.formats``) is written as float weights (``float_weights``), and the card says
  so, with the largest logit difference measured between the two;
- a Cognate model gets its code saved beside the weights (``remote_code``) so it loads with
  ``trust_remote_code=True`` where this package is not installed;
- ``README.md`` is the model card (``card``).
"""

from runtime.export.writer import ExportResult, export_model

__all__ = ["ExportResult", "export_model"]
