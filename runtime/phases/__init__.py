"""Built-in phase kernels, one subpackage per kind on the shared ``toolkit``.

Importing this package makes them known to ``runtime.kernels.KERNELS``, which imports a
kernel's package the first time it is asked for. Every phase kind
of ``forgelang.kinds`` has a kernel here or is listed in ``NOT_YET_BUILT``: ``forge
apply`` refuses a plan with such a kind before anything runs, naming it (a contract test
keeps the two lists complete and disjoint).
"""

from runtime.kernels import KERNELS

# Every built kind; its package registers the kernel when imported, which KERNELS does on
# first use (KernelRegistry.provide): an apply imports only the kernels its plan runs.
BUILT = ("baking", "bitnet", "cognate", "compression", "curriculum", "evomerge", "experts",
         "quietstar")
for _kind in BUILT:
    KERNELS.provide(_kind, f"runtime.phases.{_kind}")

NOT_YET_BUILT: tuple[str, ...] = ()
