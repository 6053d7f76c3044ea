"""The flow in one place: specs -> plans -> artifacts -> patched artifacts -> bytes -> secret scan.

`build` is the whole of it, as `bizinfra generate` runs it; pure: the writer does the I/O.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bizinfra.artifacts import Artifact, Owner
from bizinfra.plan import resolve
from bizinfra.render import render
from bizinfra.secret_scan import Finding, scan
from bizinfra.spec.loader import Problem, Spec, SpecError, load_specs
from bizinfra.spec.patches import PatchError, apply_operations
from bizinfra.spec.text import PathTuple, did_you_mean
from bizinfra.targets import TARGETS, compile_plan, with_dependents


@dataclass(frozen=True)
class Tree:
    """What `bizinfra generate` writes: `files`, the bytes of every generated file by its path under the output
    folder (`<platform>/<path>`); `owners`, which target and environment made each; `targets`, the targets
    built (those asked for and those that read or embed them)."""

    files: dict[str, bytes]
    owners: dict[str, Owner]
    targets: frozenset[str]


def build(specs: str | os.PathLike[str] | Iterable[Spec], targets: Iterable[str] | None = None,
          environments: Iterable[str] | None = None) -> Tree:
    """Run the whole pipeline as `bizinfra generate` does, without writing: load, resolve, compile, apply the
    spec's patches, render, and scan every byte for secrets.

    `specs` is a spec file or a folder of `*.yaml` specs (files name it as given, so pass it relative to the
    repository root to get the bytes `generate` writes), or specs already loaded (`load`, `parse_spec`).
    `targets` and `environments` narrow the build as `--target` and `--env` do; a target brings along every
    target that reads or embeds it. Raises `SpecError` listing every problem: in the spec, a patch that does not
    apply, a literal secret in the output.
    """
    if isinstance(specs, (str, os.PathLike)):
        specs = load_specs(Path(specs), shown_as=os.fspath(specs))
    return build_tree(specs, TARGETS if targets is None else targets, environments)


def build_files(specs: Iterable[Spec]) -> dict[str, bytes]:
    """Every generated file of every target and environment, by its path under the output folder."""
    return build_tree(specs).files


def build_tree(specs: Iterable[Spec], targets: Iterable[str] = TARGETS,
               environments: Iterable[str] | None = None) -> Tree:
    """The files of the chosen targets and their dependents; with `environments`, only those environments'."""
    targets, wanted = with_dependents(targets), None if environments is None else set(environments)
    every_target = set(targets) == set(TARGETS)
    files: dict[str, bytes] = {}
    owners: dict[str, Owner] = {}
    specs = list(specs)
    for spec in specs:
        plan = resolve(spec.platform, spec.source)
        patched = apply_patches(spec, compile_plan(plan, targets), every_target)
        artifacts = [a for a in patched if wanted is None or a.environment in wanted]
        if not artifacts and wanted is None and every_target:
            raise SpecError([Problem(spec.source, 1, 1, "environments", "produces no files: no environment runs "
                                     "where bizinfra's targets build")])
        for artifact in artifacts:
            path = f"{plan.name}/{artifact.path}"
            files[path] = render(artifact, spec.source)
            owners[path] = Owner(artifact.target, artifact.environment)
    if not files:
        names = ", ".join(sorted({spec.source for spec in specs}))
        raise SpecError([Problem(names, 1, 1, "", "the chosen targets and environments produce no files")])
    problems = secret_problems(specs, scan(files))
    if problems:
        raise SpecError(problems)
    return Tree(files, owners, frozenset(targets))


def secret_problems(specs: Iterable[Spec], findings: Iterable[Finding]) -> list[Problem]:
    """Each finding at the spec value it came from, once for all the files that value reaches (the first is
    named); a secret no spec value holds is reported at its generated file and line."""
    by_platform = {spec.platform.name: spec for spec in specs}
    values: dict[str, list[tuple[PathTuple, str]]] = {}
    problems: dict[tuple[str, int, int, str], Problem] = {}
    for finding in findings:
        platform = finding.path.split("/", 1)[0]
        spec, field = by_platform.get(platform), None
        if spec is not None:
            if platform not in values:  # only the spec's own values: a default is no secret
                values[platform] = [(path, value) for path, value in _strings(spec.platform.model_dump(), ())
                                    if path in spec.positions]
            field = _holding(values[platform], finding.text)
        if spec is None or field is None:
            problem = Problem(finding.path, finding.line, 1, "", finding.message)
        else:
            problem = spec.problem(field, finding.message_naming_the_file)
        problems.setdefault((problem.file, problem.line, problem.column, finding.what), problem)
    return list(problems.values())


def _strings(data: object, path: PathTuple) -> Iterator[tuple[PathTuple, str]]:
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _strings(value, (*path, key))
    elif isinstance(data, (list, tuple)):
        for index, value in enumerate(data):
            yield from _strings(value, (*path, index))


def _holding(values: list[tuple[PathTuple, str]], text: str) -> PathTuple | None:
    """The field whose value is the text, else the first that contains it. Compose writes `$` as `$$`."""
    texts = {text, text.replace("$$", "$")}
    exact = next((path for path, value in values if value in texts), None)
    return exact or next((path for path, value in values if any(t in value for t in texts)), None)


def apply_patches(spec: Spec, artifacts: list[Artifact], every_target: bool = True) -> list[Artifact]:
    """The artifacts with the spec's patches applied, in order; every patch must apply.

    When only some targets were built, a patch of a file they do not make is left for a full run.
    """
    by_path = {artifact.path: artifact for artifact in artifacts}
    problems = []
    for number, patch in enumerate(spec.platform.patches):
        where = ("patches", number)
        artifact = by_path.get(patch.file)
        if artifact is None and not every_target:
            continue
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
