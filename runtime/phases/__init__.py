"""Built-in phase kernels, one subpackage per kind on the shared ``toolkit``.

Importing this package registers them in ``runtime.kernels.KERNELS``. Every phase kind
of ``forgelang.kinds`` has a kernel here or is listed in ``NOT_YET_BUILT``: ``forge
apply`` refuses a plan with such a kind before anything runs, naming it (a contract test
keeps the two lists complete and disjoint).
"""

from runtime.phases import (  # noqa: F401  (register the kernels)
    baking,
    bitnet,
    cognate,
    compression,
    curriculum,
    evomerge,
    experts,
    quietstar,
)

NOT_YET_BUILT: tuple[str, ...] = ()
