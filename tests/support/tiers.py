"""Which tests are judges: those whose code, fixtures, or the test helpers they name (transitively) name one of the
judges' tool finders in tests.support. Read from the code at collection, so a new judge needs no marker by hand."""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import JUDGE_FUNCTIONS


def reaches_a_judge(item: pytest.Function) -> bool:
    functions: list[Callable[..., Any]] = [item.obj]
    for definitions in item._fixtureinfo.name2fixturedefs.values():
        functions += [definition.func for definition in definitions]
    seen: set[types.CodeType] = set()
    return any(calls_a_judge(function, seen) for function in functions)


def calls_a_judge(function: Callable[..., Any], seen: set[types.CodeType] | None = None) -> bool:
    """Whether the function's code, or that of a function of the tests it names, names a judge's tool."""
    seen = set() if seen is None else seen
    function = inspect.unwrap(function)  # under @functools.cache
    inner = getattr(getattr(function, "hypothesis", None), "inner_test", None)  # under @given
    function = inspect.unwrap(inner) if inner is not None else function
    function = getattr(function, "__func__", function)
    if not isinstance(function, types.FunctionType):
        return False
    return _codecalls_a_judge(function.__code__, function.__globals__, seen)


def _codecalls_a_judge(code: types.CodeType, names: dict[str, Any], seen: set[types.CodeType]) -> bool:
    if code in seen:
        return False
    seen.add(code)
    if any(name in JUDGE_FUNCTIONS for name in code.co_names):
        return True
    # A name is a global of the function's module, or an attribute of a test module it names (`support.run`).
    scopes = [names, *(vars(value) for name in code.co_names
                       if isinstance(value := names.get(name), types.ModuleType) and _of_the_tests(value.__name__))]
    for name in code.co_names:
        for scope in scopes:
            value = scope.get(name)
            if callable(value) and _of_the_tests(getattr(value, "__module__", None)) and calls_a_judge(value, seen):
                return True
    nested = (c for c in code.co_consts if isinstance(c, types.CodeType))  # inner functions, lambdas
    return any(_codecalls_a_judge(c, names, seen) for c in nested)


def _of_the_tests(module: str | None) -> bool:
    return module is not None and (module == "tests" or module.startswith("tests."))
