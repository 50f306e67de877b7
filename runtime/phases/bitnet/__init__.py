"""Phase 4, ``bitnet``: ternary weights with straight-through fine-tuning, packed on disk.

``kernel`` tells the story; ``stored`` measures what was written (bits per weight,
sparsity, bytes against the input). The quantisers are ``runtime.bitnet``; the stored
form is ``runtime.formats.ternary``. Importing the package registers the kernel.
"""

from runtime.phases.bitnet.kernel import BitNetKernel

__all__ = ["BitNetKernel"]
