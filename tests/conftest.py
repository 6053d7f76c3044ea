"""Shared fixtures, the hypothesis budgets and the two tiers.

Hypothesis profiles: `ci` (default), `dev` (quick), `deep` (long local runs).

Tiers: the full tier is `python -m pytest`, what CI runs. The fast tier,
`HYPOTHESIS_PROFILE=dev python -m pytest -m "not judge and not slow"` (`nox -s fast`), leaves out
- `judge`: a test that runs an external validator or a real server. Marked here, by reading the test's code, its
  fixtures' and the test helpers' they call: whatever reaches `require_tool`, `optional_tool` or
  `postgres_server_tool` (tests.support) is a judge; and a test that asks for one of them unmarked fails;
- `slow`: a test over about two seconds on its own, marked in its module.
The helpers the tests share live in tests.support."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests import support
from tests.support import SPECS, schedule, tiers

# ci: twenty whole random platforms per property (each compiles every target); the suite has 116 properties, so this is
# the figure that keeps CI within its 20 minutes on 2 cores. `deep` is for long runs before a release.
settings.register_profile("ci", max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=5, deadline=None)  # the fast tier: about a minute on 2 cores
settings.register_profile("deep", max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# The validators pip installs beside the interpreter (kubernetes-validate, checkov, docker-compose...) are found by
# the tests and by `bizinfra validate` on PATH.
support.tools_on_path()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch copy of the bundled specs, as the working folder."""
    shutil.copytree(SPECS, tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- tiers ----------------------------------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Iterator[None]:
    """Mark the judges before `-m` deselects; once it has, put the longest tests where they start first."""
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        if item.get_closest_marker("judge") is None and tiers.reaches_a_judge(item):
            item.add_marker(pytest.mark.judge)
    yield
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))  # set on each xdist worker
    items[:] = schedule.longest_first(items, [item.nodeid for item in items], workers)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[object]:
    """Remember the test being run, fixtures included, so that a judge's tool refuses a test not marked `judge`."""
    support.current_test.append(item)
    try:
        return (yield)
    finally:
        support.current_test.pop()
