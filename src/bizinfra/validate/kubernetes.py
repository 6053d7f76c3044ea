"""Judging Kubernetes manifests offline: built-in kinds by `kubernetes-validate --strict`, custom resources by
their upstream CRD schemas (vendored in bizinfra/data/reference/crds), and nothing left unjudged.

Pure functions over documents, plus `run_kubernetes_validate` and `validate_folder`, which run the tool.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

# The oldest Kubernetes the manifests need (the preStop `sleep` action is on by default from 1.30) and the
# newest release kubernetes-validate 1.37 ships schemas for that EKS also runs. Both must accept every object.
KUBERNETES_VERSIONS = ("1.30", "1.35")
KUSTOMIZATION = "kustomization.yaml"

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_TOOL_LINE = re.compile(r"^(INFO|ERROR|WARN) (\S+) (?:passed for|did not validate for) resource (\S+) (.*)$")


@dataclass(frozen=True)
class CustomResourceDefinition:
    api_version: str
    kind: str
    namespaced: bool
    schema: Mapping[str, Any]


@cache
def custom_resource_definitions() -> Mapping[tuple[str, str], CustomResourceDefinition]:
    """The vendored CRD schemas, by (apiVersion, kind), closed so that an unknown field is an error."""
    folder = resources.files("bizinfra") / "data" / "reference" / "crds"
    definitions = {}
    for entry in json.loads((folder / "index.json").read_text()):
        source = folder / entry["file"]
        if not source.is_file():
            continue
        api_version = f"{entry['group']}/{entry['version']}"
        schema = closed(json.loads(source.read_text()))
        definitions[api_version, entry["kind"]] = CustomResourceDefinition(
            api_version, entry["kind"], entry["scope"] == "Namespaced", schema)
    return definitions


def closed(schema: Any) -> Any:
    """The schema as the API server applies it with strict field validation (crds/SOURCES.md): an object schema
    with `properties`, and neither `additionalProperties` nor `x-kubernetes-preserve-unknown-fields`, admits no
    other field; `x-kubernetes-int-or-string` admits an integer or a string."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: closed(value) for key, value in schema.items()}
    if "properties" in result and "additionalProperties" not in result \
            and not result.get("x-kubernetes-preserve-unknown-fields"):
        result["additionalProperties"] = False
    if result.get("x-kubernetes-int-or-string") and "anyOf" not in result:
        result["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return result


def is_custom(document: Mapping[str, Any]) -> bool:
    return (document.get("apiVersion"), document.get("kind")) in custom_resource_definitions()


def identity(document: Mapping[str, Any]) -> str:
    """`Kind/name`, as problems name an object."""
    return f"{document.get('kind')}/{(document.get('metadata') or {}).get('name')}"


def custom_resource_problems(document: Mapping[str, Any]) -> list[str]:
    """What the API server would refuse in a custom resource: schema errors, unknown fields, a bad name or
    scope. Empty when it is valid."""
    definition = custom_resource_definitions()[document["apiVersion"], document["kind"]]
    validator = jsonschema.Draft202012Validator(definition.schema)
    problems = [f"{identity(document)}: {'.'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
                for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))]
    return problems + _metadata_problems(document, definition.namespaced)


def _metadata_problems(document: Mapping[str, Any], namespaced: bool) -> list[str]:
    """The CRD schemas declare `metadata` only as an object; these are the API server's own checks of it."""
    meta = document.get("metadata") or {}
    problems = [f"{identity(document)}: metadata.{key}: field not declared in ObjectMeta as generated here"
                for key in sorted(set(meta) - {"name", "namespace", "labels", "annotations"})]
    name = str(meta.get("name", ""))
    if not (_DNS_SUBDOMAIN.match(name) and len(name) <= 253):
        problems.append(f"{identity(document)}: metadata.name: '{name}' is not a DNS subdomain")
    if namespaced != ("namespace" in meta):
        scope = "namespaced: it needs" if namespaced else "cluster-wide: it takes no"
        problems.append(f"{identity(document)}: metadata.namespace: the kind is {scope} namespace")
    for key, value in sorted((meta.get("labels") or {}).items()):
        if not (isinstance(value, str) and len(value) <= 63 and _LABEL_VALUE.match(value)):
            problems.append(f"{identity(document)}: metadata.labels.{key}: '{value}' is not a label value")
    return problems


def builtin_problems(document: Mapping[str, Any], versions: Sequence[str] = KUBERNETES_VERSIONS) -> list[str]:
    """kubernetes-validate's strict schemas, applied in-process with each schema loaded once: the same judgement
    as the command (whose library reloads the 1.4 MB definitions for every object), fast enough for property
    tests over many platforms. Needs the kubernetes-validate package."""
    problems = []
    for version in versions:
        validator = _builtin_validator(version, str(document.get("apiVersion")), str(document.get("kind")))
        if validator is None:
            problems.append(f"{identity(document)}: kubernetes {version} has no schema for "
                            f"{document.get('apiVersion')} {document.get('kind')}")
            continue
        problems += [f"{identity(document)}: kubernetes {version}: "
                     f"{'.'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
                     for error in validator.iter_errors(document)]
    return problems


def document_problems(documents: Iterable[Mapping[str, Any]],
                      versions: Sequence[str] = KUBERNETES_VERSIONS) -> list[str]:
    """Every object judged: custom resources by their CRD schema, the others by the Kubernetes schemas."""
    return [problem for document in documents
            for problem in (custom_resource_problems(document) if is_custom(document)
                            else builtin_problems(document, versions))]


@cache
def _builtin_validator(version: str, api_version: str, kind: str) -> jsonschema.Draft202012Validator | None:
    utils = _kubernetes_validate()
    folder = next(f"v{v}-local-strict" for v in reversed(utils.all_versions()) if utils.major_minor(v) <= version)
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)  # apps/v1 -> apps-v1, as the tool names files
    try:
        schema = utils.schema_contents(f"kubernetes-json-schema/{folder}/{kind.lower()}-{group}.json", version)
    except FileNotFoundError:
        return None
    return jsonschema.Draft202012Validator(schema, registry=_builtin_registry(folder, version))


def _kubernetes_validate() -> Any:
    """The kubernetes-validate library: a test dependency, imported only when asked to judge."""
    from kubernetes_validate import utils  # type: ignore[import-untyped]

    return utils


@cache
def _builtin_registry(folder: str, version: str) -> Any:
    from referencing import Registry, Resource

    definitions = _kubernetes_validate().schema_contents(f"kubernetes-json-schema/{folder}/_definitions.json", version)
    return Resource.from_contents(definitions) @ Registry()


@dataclass
class ToolReport:
    """What `kubernetes-validate` said: the objects it accepted for every version, and every complaint."""

    accepted: set[tuple[str, str]] = field(default_factory=set)  # (file, kind/name), kind lower-case as it prints
    problems: list[str] = field(default_factory=list)


def parse_tool_output(output: str, versions: Sequence[str]) -> ToolReport:
    passes: dict[tuple[str, str], int] = {}
    report = ToolReport()
    for line in output.splitlines():
        match = _TOOL_LINE.match(line)
        if match and match[1] == "INFO":
            passes[match[2], match[3]] = passes.get((match[2], match[3]), 0) + 1
        elif line.strip():
            report.problems.append(line)  # errors, warnings (no schema for a kind), anything unexpected
    report.accepted = {key for key, count in passes.items() if count >= len(versions)}
    return report


def run_kubernetes_validate(executable: str, files: Iterable[Path],
                            versions: Sequence[str] = KUBERNETES_VERSIONS) -> ToolReport:
    """One run of `kubernetes-validate --strict` over many files, for every version."""
    names = [str(path) for path in files]
    if not names:
        return ToolReport()
    command = [executable, "--strict", *(arg for v in versions for arg in ("-k", v)), *names]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    report = parse_tool_output(result.stdout + result.stderr, versions)
    if result.returncode != 0 and not report.problems:
        report.problems.append(f"kubernetes-validate exited {result.returncode} without saying why")
    return report


def kustomization_problems(folder: Path) -> list[str]:
    """The kustomization lists exactly the manifest files of its folder; a folder below it with a kustomization of
    its own (the migration Jobs') is that one's, and is judged the same way."""
    kustomization = yaml.safe_load((folder / KUSTOMIZATION).read_text())
    listed = list(kustomization.get("resources", []))
    own = [p.parent for p in folder.rglob(KUSTOMIZATION) if p.parent != folder]
    present = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.yaml")
                     if p.name != KUSTOMIZATION and not any(o in p.parents for o in own))
    problems = [f"{folder / KUSTOMIZATION}: lists {name}, which does not exist" for name in listed
                if name not in present]
    problems += [f"{folder / KUSTOMIZATION}: does not list {name}" for name in present if name not in listed]
    if len(set(listed)) != len(listed):
        problems.append(f"{folder / KUSTOMIZATION}: lists a file twice")
    return problems + [problem for below in own for problem in kustomization_problems(below)]


def validate_folders(executable: str, folders: Sequence[Path],
                     versions: Sequence[str] = KUBERNETES_VERSIONS) -> list[str]:
    """Every problem with the manifests of these kustomization folders; empty when all are valid.

    Built-in kinds go to kubernetes-validate in one run, custom resources to their CRD schemas, and an object
    that neither judged (an unknown kind, a schema the tool lacks) is a problem, not a warning.
    """
    problems: list[str] = []
    builtin_files: list[Path] = []
    expected: list[tuple[str, str]] = []
    copies: dict[str, str] = {}  # a file that mixes in custom resources is given to the tool as a copy without them
    with tempfile.TemporaryDirectory() as scratch:
        for folder in folders:
            problems += kustomization_problems(folder)
            for path in sorted(folder.rglob("*.yaml")):
                if path.name == KUSTOMIZATION:
                    continue
                documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
                custom = [d for d in documents if is_custom(d)]
                builtin = [d for d in documents if not is_custom(d)]
                problems += [f"{path}: {p}" for d in custom for p in custom_resource_problems(d)]
                if not builtin:
                    continue
                tool_path = path
                if custom:  # the tool only warns, and does not validate, on kinds it has no schema for
                    tool_path = Path(scratch) / f"{len(copies)}-{path.name}"
                    tool_path.write_text(yaml.safe_dump_all(builtin, sort_keys=False))
                    copies[str(tool_path)] = str(path)
                builtin_files.append(tool_path)
                expected += [(str(tool_path), f"{d.get('kind', '').lower()}/{(d.get('metadata') or {}).get('name')}")
                             for d in builtin]
        report = run_kubernetes_validate(executable, builtin_files, versions)
    problems += report.problems
    problems += [f"{path}: {name}: not accepted by kubernetes-validate for every version in {list(versions)}"
                 for path, name in expected if (path, name) not in report.accepted]
    for copy, original in copies.items():
        problems = [problem.replace(copy, original) for problem in problems]
    return problems
