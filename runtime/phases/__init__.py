"""Built-in phase kernels; importing this package registers them in ``runtime.kernels.KERNELS``."""

from runtime.phases import cognate, evomerge  # noqa: F401  (register the ``cognate``, ``evomerge`` kernels)
