"""The flow in one place: specs -> plans -> artifacts -> patched artifacts -> bytes.

Pure; the writer does the I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from bizinfra.artifacts import Artifact
from bizinfra.plan import resolve
from bizinfra.render import render
from bizinfra.secret_scan import scan
from bizinfra.spec.loader import Problem, Spec, SpecError
from bizinfra.spec.patches import PatchError, apply_operations
from bizinfra.spec.text import did_you_mean
from bizinfra.targets import TARGETS, compile_plan


def build_files(specs: Iterable[Spec], targets: Iterable[str] = TARGETS) -> dict[str, bytes]:
    """Every generated file, by its path under the output folder."""
    targets = list(targets)
    files: dict[str, bytes] = {}
    for spec in specs:
        plan = resolve(spec.platform, spec.source)
        artifacts = compile_plan(plan, targets)
        if not artifacts:
            raise SpecError([Problem(spec.source, 1, 1, "environments", "produces no files: no environment runs "
                                     "on a platform the chosen targets build for")])
        for artifact in apply_patches(spec, artifacts):
            files[f"{plan.name}/{artifact.path}"] = render(artifact, spec.source)
    findings = scan(files)
    if findings:
        raise SpecError([Problem(finding.path, finding.line, 1, "", finding.message) for finding in findings])
    return files


def apply_patches(spec: Spec, artifacts: list[Artifact]) -> list[Artifact]:
    """The artifacts with the spec's patches applied, in order; every patch must apply."""
    by_path = {artifact.path: artifact for artifact in artifacts}
    problems = []
    for number, patch in enumerate(spec.platform.patches):
        where = ("patches", number)
        artifact = by_path.get(patch.file)
        if artifact is None:
            hint = did_you_mean(patch.file, by_path)
            problems.append(spec.problem((*where, "file"), f"bizinfra generates no file '{patch.file}'{hint}"))
            continue
        if artifact.format == "text":
            problems.append(spec.problem((*where, "file"), f"'{patch.file}' is text, not YAML or JSON: it cannot be patched"))
            continue
        try:
            index = _document_index(artifact, patch.select.kind if patch.select else None,
                                    patch.select.name if patch.select else None)
            documents = list(artifact.documents)
            documents[index] = apply_operations(documents[index], patch.ops)
        except PatchError as error:
            problems.append(spec.problem((*where, *error.field), f"{patch.file}: {error}"))
            continue
        by_path[patch.file] = dataclasses.replace(artifact, documents=tuple(documents))
    if problems:
        raise SpecError(problems)
    return [by_path[artifact.path] for artifact in artifacts]


def _document_index(artifact: Artifact, kind: str | None, name: str | None) -> int:
    if kind is None:
        if len(artifact.documents) != 1:
            raise PatchError(("file",), f"holds {len(artifact.documents)} documents; add select: {{kind, name}}")
        return 0
    for index, document in enumerate(artifact.documents):
        metadata = document.get("metadata", {}) if isinstance(document, dict) else {}
        if document.get("kind") == kind and metadata.get("name") == name:
            return index
    raise PatchError(("select",), f"no {kind} named '{name}'")
