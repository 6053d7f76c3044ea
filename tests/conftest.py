"""Shared fixtures and the hypothesis budgets: `ci` (default), `dev` (quick), `deep` (long local runs)."""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=15, deadline=None)
settings.register_profile("deep", max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch copy of the bundled specs, as the working folder."""
    shutil.copytree(SPECS, tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below `folder`, by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def require_tool(name: str) -> str:
    """The tool's path; a missing tool skips locally and fails in CI, where it must be installed."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed, and CI must run this check")
        pytest.skip(f"{name} is not installed")
    return path


def postgres_server_tool(name: str) -> str:
    """initdb or pg_ctl: on PATH, or where Debian's postgresql package puts them (not on PATH); `.ci/run` installs
    that package, so like `require_tool` a missing server skips locally and fails in CI."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)),
                                       None)
    return found or require_tool(name)


def optional_tool(name: str) -> str:
    """A tool this machine image happens to carry (kubectl, terraform): it strengthens the tests where present,
    and a fresh machine without it skips, in CI too, since pip cannot install it."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not on this machine (optional: not installable with pip)")
    return path
