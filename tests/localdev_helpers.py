"""Shared by the compose and ops tests: compile a platform's files to a folder, run a validator on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bizinfra.pipeline import build_tree
from bizinfra.plan import PlatformPlan, resolve
from bizinfra.spec.loader import Spec, load_platform
from bizinfra.spec.models import Platform
from tests.conftest import SPECS, require_tool

BUNDLED = SPECS / "business-app.yaml"
VENV_BIN = os.path.dirname(sys.executable)


def tool(name: str) -> str:
    """The tool from the venv's bin (or PATH); missing: skips locally, fails in CI."""
    path = os.environ.get("PATH", "")
    if VENV_BIN not in path.split(os.pathsep):
        os.environ["PATH"] = VENV_BIN + os.pathsep + path
    return require_tool(name)


def bundled_platform() -> Platform:
    return load_platform(BUNDLED, shown_as="specs/business-app.yaml")


def plan_of(platform: Platform) -> PlatformPlan:
    return resolve(platform, "specs/test.yaml")


def write_files(platform: Platform, out: Path, targets: tuple[str, ...] = ("compose", "ops", "kubernetes")) -> Path:
    """The rendered files of the chosen targets under out/<platform>/; returns that folder."""
    files = build_tree([Spec("specs/test.yaml", platform)], targets).files
    for path, content in files.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        if content.startswith(b"#!"):
            target.chmod(0o755)
    return out / platform.name


def run(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)
