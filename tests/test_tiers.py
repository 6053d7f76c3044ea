"""The tiers: a test that reaches an external tool is marked `judge` from its code, and one that reaches a tool
unmarked fails rather than run it in the fast tier."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests import support
from tests.support import tiers

# Sample tests, compiled apart so that this module names no tool finder itself (it would be a judge).
SAMPLES = '''
import functools
from hypothesis import given, strategies as st
from tests.support import optional_tool, postgres_server_tool, require_tool
from tests import support

def helper():
    return require_tool("shellcheck")

def directly():
    require_tool("promtool")

def through_a_helper():
    helper()

def through_a_module_attribute():
    support.optional_tool("kubectl")

def in_a_lambda():
    return sorted([1], key=lambda x: postgres_server_tool("initdb"))

@functools.cache
def cached():
    return helper()

def through_a_cached_helper():
    cached()

@given(st.integers())
def under_given(n):
    helper()

def recursive(n):
    return recursive(n - 1) if n else None

def no_tool():
    return recursive(3), sorted([2, 1]), support.tree
'''


def sample(name: str) -> Callable[..., Any]:
    namespace: dict[str, Any] = {"__name__": "tests.tier_samples"}
    exec(compile(SAMPLES, "tier_samples.py", "exec"), namespace)
    function: Callable[..., Any] = namespace[name]
    return function


@pytest.mark.parametrize("name", ["directly", "through_a_helper", "through_a_module_attribute", "in_a_lambda",
                                  "through_a_cached_helper", "under_given"])
def test_a_test_that_reaches_a_tool_finder_is_a_judge(name: str) -> None:
    assert tiers.calls_a_judge(sample(name))


def test_a_test_that_reaches_none_is_not() -> None:
    assert not tiers.calls_a_judge(sample("no_tool"))


def test_a_tool_asked_for_by_a_test_not_marked_judge_fails_it() -> None:
    finder = getattr(support, support.JUDGE_FUNCTIONS[0])  # unseen by the reading, as a dynamic call would be
    with pytest.raises(pytest.fail.Exception, match="is not marked `judge`"):
        finder("sh")
