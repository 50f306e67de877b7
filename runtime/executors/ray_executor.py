"""The Ray executor: one Ray task per item, with Ray's own task API.

``fn`` (e.g. the EvoMerge candidate evaluator, which holds the input models' state
dicts) is put in the object store once per executor with ``ray.put`` and passed to
every task by reference, so the weights are shipped once per node, not once per task.
``ray`` is imported only here, and only when the executor is created.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

RAY_MISSING = ("the `ray` executor needs Ray, which is not installed: "
               "pip install 'agent-forge[ray]'")


def _import_ray():
    try:
        import ray
    except ImportError as e:
        raise RuntimeError(RAY_MISSING) from e
    return ray


def _init(ray, address: str | None) -> None:
    """``ray.init``, with a clear message when the named cluster is not there."""
    try:
        ray.init(address=address)
    except ConnectionError as e:
        raise RuntimeError(f"no Ray cluster answered at address {address!r} ({e}); start one "
                           "with `ray start --head`, or leave `address` unset to start a local "
                           "Ray instance") from e


def _call(fn, item):
    """The body of one Ray task: ``fn(item)`` in a worker process."""
    return fn(item)


class RayExecutor:
    """Evaluates items as Ray tasks on the cluster at ``address``.

    Args:
        address: passed to ``ray.init`` when Ray is not initialised yet (``auto`` joins a
            running cluster; None joins RAY_ADDRESS's or starts a local instance);
            ignored when the caller already called ``ray.init``.
        num_cpus: CPUs reserved per task; None = Ray's default (1).

    Raises:
        RuntimeError: Ray is not installed, or no cluster answers at ``address`` (the
            message says what to do).
    """

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        self.ray = _import_ray()
        self.address, self.num_cpus = address, num_cpus
        self._started = False
        if not self.ray.is_initialized():
            _init(self.ray, address)
            self._started = True
        options = {} if num_cpus is None else {"num_cpus": num_cpus}
        self._task = self.ray.remote(**options)(_call) if options else self.ray.remote(_call)
        self._refs: dict[int, Any] = {}  # id(fn) -> (fn, its object ref)

    def _ref(self, fn):
        """``ray.put(fn)`` once per function object; kept alive while the executor lives."""
        entry = self._refs.get(id(fn))
        if entry is None or entry[0] is not fn:
            entry = (fn, self.ray.put(fn))
            self._refs[id(fn)] = entry
        return entry[1]

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any],
            on_result: Callable[[int, Any], None] | None = None) -> list:
        """One task per item; results in item order, ``on_result`` as tasks finish.

        If ``on_result`` (or a task) raises, the tasks still running are cancelled.
        """
        ref = self._ref(fn)
        pending = [self._task.remote(ref, item) for item in items]
        index = {r: i for i, r in enumerate(pending)}
        results: list[Any] = [None] * len(pending)
        waiting = list(pending)
        try:
            while waiting:
                done, waiting = self.ray.wait(waiting, num_returns=1)
                i = index[done[0]]
                results[i] = self.ray.get(done[0])
                if on_result is not None:
                    on_result(i, results[i])
        except BaseException:  # a stop (or a failure): the other tasks' results are not wanted
            for ref in waiting:
                self.ray.cancel(ref)
            raise
        return results

    def close(self) -> None:
        """Drop the object refs; shut Ray down only if this executor started it."""
        self._refs.clear()
        if self._started:
            self.ray.shutdown()
