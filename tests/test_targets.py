"""The target registry: what each target reads and embeds, so a partial `generate` rebuilds what depends on it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bizinfra.cli import main
from bizinfra.targets import TARGETS, with_dependents
from tests.support import ROOT


def test_building_a_target_brings_along_the_targets_that_read_or_embed_it() -> None:
    assert with_dependents(["monitoring"]) == ["kubernetes", "github", "terraform", "monitoring", "ops", "cost"]
    assert with_dependents(["terraform"]) == ["terraform", "cost"]
    assert with_dependents(["github", "ops"]) == ["github", "ops"]
    assert with_dependents(TARGETS) == list(TARGETS)


@pytest.mark.parametrize("name", TARGETS)
def test_a_target_that_builds_on_another_target_declares_it(name: str) -> None:
    folder = ROOT / "src" / "bizinfra" / "targets" / name
    sources = sorted(folder.glob("*.py")) if folder.is_dir() else [folder.with_suffix(".py")]
    used = {other for source in sources
            for other in re.findall(r"^\s*from bizinfra\.targets\.(\w+)", source.read_text(), flags=re.MULTILINE)}
    assert used - {name} <= {*TARGETS[name].reads, *TARGETS[name].embeds}


def test_generating_the_monitoring_target_regenerates_the_kubernetes_files_embedding_it(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate"]) == 0
    embedded = project / "generated" / "shop" / "kubernetes" / "production" / "monitoring.yaml"
    before = embedded.read_bytes()
    spec = project / "specs" / "shop.yaml"
    spec.write_text(spec.read_text().replace("availability: 99.5", "availability: 99.9"))

    assert main(["generate", "--target", "monitoring"]) == 0
    capsys.readouterr()
    assert main(["check"]) == 0, capsys.readouterr().out
    assert embedded.read_bytes() != before


def test_generating_the_terraform_target_regenerates_the_cost_report(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate"]) == 0
    report = project / "generated" / "business-app" / "docs" / "cost.md"
    before = report.read_bytes()
    spec = project / "specs" / "business-app.yaml"
    spec.write_text(spec.read_text().replace("nodes: {min: 3, max: 6}", "nodes: {min: 4, max: 6}"))

    assert main(["generate", "--target", "terraform"]) == 0
    capsys.readouterr()
    assert main(["check"]) == 0, capsys.readouterr().out
    assert report.read_bytes() != before
