"""The targets: each a pure function from a platform's plan to the files it produces.

The registry names each target's function by where it lives, and imports it only when the target is built: the
command line lists the targets for `--target` without paying for compiling machinery it may never run.

A target also declares what it takes from other targets, since its files change when theirs do:
`reads` are targets whose artifacts it is handed (the cost report prices the Terraform the terraform target
compiled, without compiling it again); `embeds` are targets whose documents it builds into its own files by
calling them (the Kubernetes target writes the monitoring target's rules as a PrometheusRule). Building a target
therefore rebuilds every target that reads or embeds it (`with_dependents`).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bizinfra.artifacts import Artifact
    from bizinfra.plan import PlatformPlan


@dataclass(frozen=True)
class Target:
    """One output kind: `function` is `module:name`, a pure function of the plan (and, for a target that reads
    others, of their artifacts: `function(plan, artifacts)`), returning the target's artifacts."""

    function: str
    reads: tuple[str, ...] = ()
    embeds: tuple[str, ...] = ()

    def compile(self, plan: PlatformPlan, inputs: Sequence[Artifact] = ()) -> list[Artifact]:
        """The target's artifacts for a plan; `inputs` are the artifacts of the targets it reads."""
        module, _, name = self.function.partition(":")
        function: Callable[..., list[Artifact]] = getattr(importlib.import_module(module), name)
        return function(plan, inputs) if self.reads else function(plan)


TARGETS: dict[str, Target] = {
    "kubernetes": Target("bizinfra.targets.kubernetes:compile_kubernetes", embeds=("monitoring",)),
    "github": Target("bizinfra.targets.github:compile_github"),
    "terraform": Target("bizinfra.targets.terraform:compile_terraform", embeds=("monitoring",)),
    "monitoring": Target("bizinfra.targets.monitoring:compile_monitoring"),
    "compose": Target("bizinfra.targets.compose:compile_compose"),
    "ops": Target("bizinfra.targets.ops:compile_ops", embeds=("monitoring",)),
    "cost": Target("bizinfra.targets.cost:compile_cost", reads=("terraform",)),
}


class CompileError(Exception):
    """A target produced something no valid platform should: a bug, not bad input."""


def with_dependents(names: Iterable[str]) -> list[str]:
    """The named targets and every target that reads or embeds one of them, directly or not, in registry order."""
    chosen = set(names)
    while more := {name for name, target in TARGETS.items()
                   if chosen & {*target.reads, *target.embeds}} - chosen:
        chosen |= more
    return [name for name in TARGETS if name in chosen]


def compile_plan(plan: PlatformPlan, targets: Iterable[str] = TARGETS) -> list[Artifact]:
    """Every file the chosen targets produce for one platform, in path order, as compiled: before the spec's
    patches and the secret scan (`bizinfra.build` runs those too). Each target is compiled once, even when
    another target reads it."""
    built: dict[str, list[Artifact]] = {}

    def build(name: str) -> list[Artifact]:
        if name not in built:
            target = TARGETS[name]
            inputs = [artifact for read in target.reads for artifact in build(read)]
            built[name] = [dataclasses.replace(artifact, target=name) for artifact in target.compile(plan, inputs)]
        return built[name]

    artifacts = [artifact for name in dict.fromkeys(targets) for artifact in build(name)]
    paths = [artifact.path for artifact in artifacts]
    if len(set(paths)) != len(paths):
        raise CompileError(f"{plan.name}: two targets produced the same file")
    return sorted(artifacts, key=lambda artifact: artifact.path)
