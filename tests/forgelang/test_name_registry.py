"""The shared Registry: register once (directly or as a decorator), get with a hint."""

import pytest

from forgelang.registry import Registry


def test_register_get_names_and_errors():
    reg = Registry("widget", error=KeyError)
    assert reg.register("alpha", 1) == 1

    @reg.register("beta")
    def beta():
        return 2

    assert reg.get("beta") is beta and "alpha" in reg and "gamma" not in reg
    assert reg.names() == ["alpha", "beta"]
    with pytest.raises(KeyError, match="unknown widget 'alpah'; did you mean `alpha`"):
        reg.get("alpah")
    with pytest.raises(ValueError, match="widget 'alpha' registered twice"):
        reg.register("alpha", 3)


def test_prepare_hook_sorting_and_empty_hint():
    class Doubling(Registry[int]):
        def _prepare(self, name, obj):
            return 2 * obj

    reg = Doubling("number", unknown="no {what} called {name}", empty_hint="none yet", sort=True)
    with pytest.raises(ValueError, match="no number called 'zzzz'; none yet"):
        reg.get("zzzz")  # nothing registered: the empty hint
    assert reg.register("b", 2) == 2 and reg.get("b") == 4
    reg.register("a", 1)
    assert reg.names() == ["a", "b"]
    with pytest.raises(ValueError, match="no number called 'zzzz'; expected one of: `a`, `b`"):
        reg.get("zzzz")
