"""bizinfra: one description of a business application, compiled into everything that runs it.

Build what `bizinfra generate` writes, in memory: the spec's patches applied and every byte scanned for
secrets, keyed by path under the output folder:

    import bizinfra
    tree = bizinfra.build("specs")            # a spec file, a folder of specs, or loaded specs
    for path, content in sorted(tree.files.items()):
        print(path, len(content))

A spec held as text: `bizinfra.build([bizinfra.parse_spec(text, "specs/shop.yaml")])`. Narrow a build as
`--target` and `--env` do: `bizinfra.build("specs", targets=["monitoring"], environments=["production"])`.
Every problem (in the spec, in a patch, a literal secret in the output) raises `SpecError`, whose `problems`
each name the file, line, column and field.

The stages, to look inside: `load` (or `parse_spec`) gives `Spec`s; `resolve` turns a spec's `Platform` into the
`PlatformPlan` of facts every target reads; `compile_plan` gives each target's `Artifact`s, as compiled, before
the patches and the secret scan; `render` turns one artifact into its bytes. `TARGETS` lists the targets.

Importing bizinfra is cheap: each name is imported the first time it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bizinfra._version import __version__
from bizinfra.render import render  # not lazy: importing the submodule `bizinfra.render` would hide a lazy name

if TYPE_CHECKING:
    from pathlib import Path

    from bizinfra.artifacts import Artifact
    from bizinfra.pipeline import Tree, build
    from bizinfra.plan import EnvironmentPlan, PlatformPlan, ServicePlan, resolve
    from bizinfra.spec.loader import Problem, Spec, SpecError, parse_platform
    from bizinfra.spec.models import Platform
    from bizinfra.targets import TARGETS, compile_plan

# Where each public name lives; `__getattr__` imports it on first use.
_HOMES = {
    "Artifact": "bizinfra.artifacts",
    "Tree": "bizinfra.pipeline",
    "build": "bizinfra.pipeline",
    "EnvironmentPlan": "bizinfra.plan",
    "PlatformPlan": "bizinfra.plan",
    "ServicePlan": "bizinfra.plan",
    "resolve": "bizinfra.plan",
    "Problem": "bizinfra.spec.loader",
    "Spec": "bizinfra.spec.loader",
    "SpecError": "bizinfra.spec.loader",
    "parse_platform": "bizinfra.spec.loader",
    "Platform": "bizinfra.spec.models",
    "TARGETS": "bizinfra.targets",
    "compile_plan": "bizinfra.targets",
}


def load(path: str | Path) -> list[Spec]:
    """The specs in a spec file or a folder of `*.yaml` specs; raises `SpecError` listing every problem."""
    from pathlib import Path

    from bizinfra.spec.loader import load_specs

    return load_specs(Path(path))


def parse_spec(text: str, filename: str) -> Spec:
    """One spec from its text, for `build`; `filename` is how problems and generated files name it. Raises
    `SpecError` listing every problem."""
    from bizinfra.spec.loader import parse_spec as parse

    return parse(text, filename)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'bizinfra' has no attribute '{name}'")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


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
    "Tree",
    "__version__",
    "build",
    "compile_plan",
    "load",
    "parse_platform",
    "parse_spec",
    "render",
    "resolve",
]
