"""Built-in phase kernels; importing this package registers them in ``runtime.kernels.KERNELS``."""

from runtime.phases import cognate  # noqa: F401  (registers the ``cognate`` kernel)
