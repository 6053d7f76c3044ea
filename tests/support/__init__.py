"""What the tests share: where the project and its bundled specs are, the bundled business app loaded, planned and
built, and the external tools (judges) the full tier runs.

Modules beside this one hold the helpers of one area: `rules` (the validate rules), `kubernetes`, `localdev`
(compose and ops), `monitoring`, and `deploy_runner` (the deploy jobs' steps against the stand-in kubectl)."""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bizinfra.pipeline import build_tree
from bizinfra.plan import PlatformPlan, resolve
from bizinfra.spec.loader import Spec, load_platform
from bizinfra.spec.models import Platform

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
BUNDLED_SPEC = SPECS / "business-app.yaml"
BUNDLED_SOURCE = "specs/business-app.yaml"
SOURCE = "specs/test.yaml"  # the source a test's own platform is shown as
VENV_BIN = os.path.dirname(sys.executable)


# -- the bundled business app ---------------------------------------------------------------------------------------


def bundled_platform() -> Platform:
    """The bundled business app's spec, loaded afresh (tests may change it)."""
    return load_platform(BUNDLED_SPEC, shown_as=BUNDLED_SOURCE)


def bundled_plan() -> PlatformPlan:
    return resolve(bundled_platform(), BUNDLED_SOURCE)


@functools.cache
def bundled_tree() -> dict[str, bytes]:
    """The business app's generated tree, built once: tests change copies of it."""
    return build_tree([Spec(BUNDLED_SOURCE, bundled_platform())]).files


def plan_of(platform: Platform) -> PlatformPlan:
    """A test's own platform, planned."""
    return resolve(platform, SOURCE)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below `folder`, by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- the judges: external tools -------------------------------------------------------------------------------------
# A test that reaches one of the three functions below is a judge: tests/conftest.py marks it `judge` by reading its
# code, so the fast tier (`-m "not judge and not slow"`) leaves it out, and fails a test that reaches one unmarked.

JUDGE_FUNCTIONS = ("require_tool", "optional_tool", "postgres_server_tool")


def tools_on_path() -> None:
    """Put the interpreter's own bin first on PATH, so the validators installed beside it (kubernetes-validate,
    checkov, docker-compose, actionlint...) are found, by the tests and by the tools they start."""
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[:1] != [VENV_BIN]:
        os.environ["PATH"] = VENV_BIN + os.pathsep + path


def require_tool(name: str) -> str:
    """The tool's path; a missing tool skips locally and fails in CI, where it must be installed."""
    _judging(name)
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed, and CI must run this check")
        pytest.skip(f"{name} is not installed")
    return path


def postgres_server_tool(name: str) -> str:
    """initdb or pg_ctl: on PATH, or where Debian's postgresql package puts them (not on PATH); `.ci/run` installs
    that package, so like `require_tool` a missing server skips locally and fails in CI."""
    _judging(name)
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)),
                                       None)
    return found or require_tool(name)


def optional_tool(name: str) -> str:
    """A tool this machine image happens to carry (kubectl, terraform): it strengthens the tests where present,
    and a fresh machine without it skips, in CI too, since pip cannot install it."""
    _judging(name)
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not on this machine (optional: not installable with pip)")
    return path


def run(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    """A command's exit code and text output; never more than two minutes."""
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


# The test being run, set by tests/conftest.py: a judge's tool asked for by a test not marked `judge` fails it, so
# the fast tier cannot run an external tool unnoticed.
current_test: list[pytest.Item] = []


def _judging(tool: str) -> None:
    if current_test and current_test[-1].get_closest_marker("judge") is None:
        pytest.fail(f"{current_test[-1].nodeid} runs {tool} but is not marked `judge`: tests/conftest.py did not "
                    "see it reach a judge's tool; mark it `@pytest.mark.judge`")
