"""The targets: each a pure function from a platform's plan to the files it produces."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from bizinfra.artifacts import Artifact
from bizinfra.cost import compile_cost
from bizinfra.plan import PlatformPlan
from bizinfra.targets.compose import compile_compose
from bizinfra.targets.github import compile_github
from bizinfra.targets.kubernetes import compile_kubernetes
from bizinfra.targets.monitoring import compile_monitoring
from bizinfra.targets.ops import compile_ops
from bizinfra.targets.terraform import compile_terraform

Target = Callable[[PlatformPlan], list[Artifact]]

TARGETS: dict[str, Target] = {
    "kubernetes": compile_kubernetes,
    "github": compile_github,
    "terraform": compile_terraform,
    "monitoring": compile_monitoring,
    "compose": compile_compose,
    "ops": compile_ops,
    "cost": compile_cost,
}


class CompileError(Exception):
    """A target produced something no valid platform should: a bug, not bad input."""


def compile_plan(plan: PlatformPlan, targets: Iterable[str] = TARGETS) -> list[Artifact]:
    """Every file the chosen targets produce for one platform, in path order."""
    artifacts = [dataclasses.replace(artifact, target=name) for name in targets for artifact in TARGETS[name](plan)]
    paths = [artifact.path for artifact in artifacts]
    if len(set(paths)) != len(paths):
        raise CompileError(f"{plan.name}: two targets produced the same file")
    return sorted(artifacts, key=lambda artifact: artifact.path)
