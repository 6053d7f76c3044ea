"""bizinfra: one description of a business application, compiled into everything that runs it.

    import bizinfra
    spec = bizinfra.load("specs/business-app.yaml")[0]
    plan = bizinfra.resolve(spec.platform, spec.source)
    for artifact in bizinfra.compile_plan(plan):
        print(artifact.path, bizinfra.render(artifact, spec.source)[:60])
"""

from __future__ import annotations

from pathlib import Path

from bizinfra._version import __version__  # first: modules below read it while this one is loading
from bizinfra.artifacts import Artifact
from bizinfra.pipeline import build_files
from bizinfra.plan import EnvironmentPlan, PlatformPlan, ServicePlan, resolve
from bizinfra.render import render
from bizinfra.spec.loader import Problem, Spec, SpecError, load_specs, parse_platform
from bizinfra.spec.models import Platform
from bizinfra.targets import TARGETS, compile_plan


def load(path: str | Path) -> list[Spec]:
    """The platforms in a spec file or folder; raises `SpecError` listing every problem."""
    return load_specs(Path(path))


__all__ = [
    "TARGETS",
    "Artifact",
    "EnvironmentPlan",
    "Platform",
    "PlatformPlan",
    "Problem",
    "ServicePlan",
    "Spec",
    "SpecError",
    "__version__",
    "build_files",
    "compile_plan",
    "load",
    "parse_platform",
    "render",
    "resolve",
]
