"""Phase 8, ``compression``: SeedLM, VPTQ and hyper-compression stages, each measured.

``kernel`` tells the story; ``run`` holds one run's state and measurements; ``stages``
encodes the target layers stage by stage; ``layers`` finds them and their input form;
``checkpoint`` keeps each finished stage. The methods and the stored form are the
library ``runtime.compression``. Importing the package registers the kernel.
"""

from runtime.phases.compression.kernel import CompressionKernel

__all__ = ["CompressionKernel"]
