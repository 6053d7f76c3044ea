"""The flow in one place: specs -> plans -> artifacts -> bytes. Pure; the writer does the I/O."""

from __future__ import annotations

from collections.abc import Iterable

from bizinfra.plan import PlatformPlan, resolve
from bizinfra.render import render
from bizinfra.spec.loader import Problem, Spec, SpecError
from bizinfra.targets import TARGETS, compile_plan


def plan_specs(specs: Iterable[Spec]) -> list[PlatformPlan]:
    return [resolve(spec.platform, spec.source) for spec in specs]


def build_files(specs: Iterable[Spec], targets: Iterable[str] = TARGETS) -> dict[str, bytes]:
    """Every generated file, by its path under the output folder."""
    files: dict[str, bytes] = {}
    for plan in plan_specs(specs):
        artifacts = compile_plan(plan, targets)
        if not artifacts:
            raise SpecError([Problem(plan.source, 1, 1, "environments", "produces no files: no environment runs "
                                     "on a platform the chosen targets build for")])
        for artifact in artifacts:
            files[f"{plan.name}/{artifact.path}"] = render(artifact, plan.source)
    return files
