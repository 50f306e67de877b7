"""Executors: local order and callbacks, the registry, Ray (marker `ray`) equal to local."""

from __future__ import annotations

import builtins
import importlib.util

import pytest
from evolution_helpers import space

from forgelang.kinds.evomerge import EvoMergeParams
from runtime.evolution import Genome
from runtime.executors import EXECUTORS, RAY_MISSING, LocalExecutor, make_executor


def _square(x):
    return x * x


def test_local_executor_keeps_order_and_reports_each_result():
    seen = []
    out = LocalExecutor().map(_square, [3, 1, 2], on_result=lambda i, r: seen.append((i, r)))
    assert out == [9, 1, 4] and seen == [(0, 9), (1, 1), (2, 4)]


def test_executor_from_the_recipe_setting():
    assert isinstance(make_executor(EvoMergeParams().executor), LocalExecutor)
    assert EXECUTORS.names() == ["local", "ray"]
    with pytest.raises(ValueError, match="did you mean"):
        EXECUTORS.get("rays")


def test_ray_executor_without_ray_says_how_to_install(monkeypatch):
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(RuntimeError) as err:
        make_executor(EvoMergeParams(executor={"type": "ray"}).executor)
    assert str(err.value) == RAY_MISSING and "pip install 'agent-forge[ray]'" in RAY_MISSING


@pytest.mark.ray
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_ray_executor_equals_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False)
    try:
        import numpy as np

        s = space()
        genomes = [s.random(n, np.random.default_rng(i)) for i, n in enumerate(s.names)]
        executor = make_executor({"type": "ray", "address": "auto"})  # already initialised
        seen = []
        # a function Ray's workers can import (this test module is not on their path)
        remote = executor.map(Genome.key, genomes, on_result=lambda i, r: seen.append(i))
        executor.close()
        assert remote == LocalExecutor().map(Genome.key, genomes)
        assert sorted(seen) == list(range(len(genomes)))
        assert ray.is_initialized()  # the executor did not shut down a Ray it did not start
    finally:
        ray.shutdown()


def test_ray_auto_without_a_cluster_says_what_to_do(monkeypatch):
    from runtime.executors import ray_executor

    class NoCluster:
        @staticmethod
        def init(address=None):
            raise ConnectionError("Could not find any running Ray instance")

    with pytest.raises(RuntimeError, match="ray start --head.*leave `address` unset"):
        ray_executor._init(NoCluster, "auto")


def test_recipe_names_the_executor_as_a_typed_block():
    from forgelang.api import compile_plan, validate

    text = """forge 1
recipe "r" { seed = 1 }
phase cognate { architecture = smoke }
phase evomerge {
  executor = ray { address = "auto"  num_cpus = 2 }
}
"""
    step = compile_plan(text=text).steps[-1]
    assert step.params["executor"] == {"type": "ray", "address": "auto", "num_cpus": 2}
    bad = validate(text=text.replace("ray {", "rai {"))
    assert bad and any("executor" in d.message for d in bad)


@pytest.mark.ray
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_ray_executor_cancels_the_other_tasks_when_a_result_callback_raises(tmp_path):
    """A stop raised from ``on_result`` propagates at once, and the queued tasks are
    cancelled: none of them starts its work."""
    import subprocess
    import time

    import ray

    ray.init(num_cpus=2, include_dashboard=False)
    try:
        # two CPUs per task on a two-CPU instance: one task at a time, the rest queued
        executor = make_executor({"type": "ray", "address": "auto", "num_cpus": 2})
        marks = [tmp_path / f"done{i}" for i in range(3)]
        # subprocess.call kills its child when the task is interrupted (a cancel)
        slow = [["sh", "-c", f"sleep 4; touch {mark}"] for mark in marks]

        def stop(i, result):
            raise KeyboardInterrupt("stop")

        start = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            executor.map(subprocess.call, [["true"], *slow], on_result=stop)
        assert time.perf_counter() - start < 4.0  # did not wait for the slow tasks
        time.sleep(10.0)  # uncancelled, the first two slow tasks would be done by now
        assert not any(mark.exists() for mark in marks[1:])  # queued ones never ran
        executor.close()
    finally:
        ray.shutdown()
