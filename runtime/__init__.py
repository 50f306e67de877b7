"""runtime: executes compiled plans — orchestrator, registry, artifacts, kernels.

This top-level module stays free of torch so that torch-free pieces (the SQLite
registry, the workspace lock) can be used by ``forge plan``. Importing
``runtime.nn`` registers the Cognate model with transformers' Auto classes.
"""
