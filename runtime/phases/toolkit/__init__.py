"""The kernel toolkit: what every phase kernel does, written once.

A library of functions, not a base class (see ../shared/STYLE.md). A kernel's story is
"load the input model -> measure -> transform -> measure -> save"; the toolkit gives:

- ``inputs``: ``load_inputs`` / ``load_model`` / ``load_tokenizer``, one loader for every
  stored model form, local safetensors only;
- ``draws``: the seeded held-out draw (``heldout_examples``) and training draws;
- ``batches``: seeded, padded, trimmed training batches served by step;
- ``measure``: ``measure`` (accuracy, perplexity, predictions) and ``before_after``
  (the retention baseline ``input_accuracy``);
- ``stage``: ``train_stage``, a checkpointed training stage with resume and the
  divergence guard;
- ``checkpoint``: hash-verified safetensors + JSON checkpoints, never unpickled.

No module of one phase's package imports another phase's package; what two phases share
lives here.
"""
