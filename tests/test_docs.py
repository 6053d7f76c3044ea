"""Docs that run: every example program and every bizinfra command in the README."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_example_runs(example: Path) -> None:
    result = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout


def readme_commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith("python -m bizinfra")]


def test_the_readme_shows_commands() -> None:
    assert len(readme_commands()) >= 4


@pytest.mark.slow
def test_the_readme_commands_run_in_order(project: Path) -> None:
    for command in readme_commands():
        args, _, redirect = command.partition(">")
        result = subprocess.run([sys.executable, *shlex.split(args)[1:]], capture_output=True, text=True,
                                check=False)
        assert result.returncode == 0, f"{command}: {result.stderr}"
        if redirect:
            assert result.stdout.startswith("{")


def test_the_readme_setup_commands_install_and_run_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = "python3 -m venv .venv && . .venv/bin/activate && python -m pip install -e '.[test]' && python -m pytest"
    assert test_command in README
    assert test_command.replace("install -e", "install -q -e") in ci
    assert "python -m bizinfra check" in ci
