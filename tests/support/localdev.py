"""Shared by the compose and ops tests: a platform's files written to a folder, scripts executable."""

from __future__ import annotations

from pathlib import Path

from bizinfra.pipeline import build_tree
from bizinfra.spec.loader import Spec
from bizinfra.spec.models import Platform
from tests.support import SOURCE


def write_files(platform: Platform, out: Path, targets: tuple[str, ...] = ("compose", "ops", "kubernetes")) -> Path:
    """The rendered files of the chosen targets under out/<platform>/; returns that folder."""
    files = build_tree([Spec(SOURCE, platform)], targets).files
    for path, content in files.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        if content.startswith(b"#!"):
            target.chmod(0o755)
    return out / platform.name
