"""Helpers for the monitoring tests: the generated tree on disk, promtool runs, CRD schemas, and the pods
Kubernetes service discovery would report for a plan."""

from __future__ import annotations

import copy
import functools
import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.protocols import Validator

from bizinfra.plan import SLOT_LABEL, SLOTS, EnvironmentPlan, PlatformPlan
from bizinfra.render import render
from bizinfra.targets.monitoring import compile_monitoring
from bizinfra.validate.prometheus import pod_target
from tests import support
from tests.support import ROOT, require_tool

CRDS = ROOT / "src" / "bizinfra" / "data" / "reference" / "crds"


def write_tree(plan: PlatformPlan, folder: Path) -> dict[str, Path]:
    """The monitoring files of `plan`, rendered as bizinfra writes them, below `folder`."""
    written = {}
    for artifact in compile_monitoring(plan):
        path = folder / artifact.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(render(artifact, plan.source))
        written[artifact.path] = path
    return written


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return support.run([str(part) for part in command])


def promtool(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    return run(require_tool("promtool"), *arguments)


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{' '.join(result.args)}\n{result.stdout}\n{result.stderr}"


# -- Kubernetes service discovery, as a static stub ------------------------------------------------------------


def discovered_pods(env: EnvironmentPlan) -> list[dict[str, Any]]:
    """What Kubernetes pod discovery reports for the environment's pods, one target per container port,
    with the labels and annotations the plan gives them (plus a pod that must not be scraped)."""
    groups = []
    for index, service in enumerate(env.services):
        if service.port is None:  # a worker without a port, a cron job: nothing to scrape
            continue
        slots = dict(zip(service.deployments, SLOTS, strict=True)) if len(service.deployments) > 1 else {}
        for number, deployment in enumerate(service.deployments):
            labels = {**service.labels, **({SLOT_LABEL: slots[deployment]} if slots else {})}
            groups.append(pod_target(env.namespace, f"10.1.{index}.{number + 1}", service.port,
                                     f"{deployment}-5d8f7c9b6-x2x4z", labels, dict(service.scrape_annotations), "Running"))
    groups.append(pod_target(env.namespace, "10.2.0.1", 8080, "unannotated-5d8f7c9b6-x2x4z", {"app": "other"}, {},
                             "Running"))
    return groups


# -- CRD schemas ------------------------------------------------------------------------------------------------


@functools.cache
def crd_validator(kind: str) -> Validator:
    """The upstream CRD schema, closed as the API server's strict field validation treats it (crds/SOURCES.md)."""
    schema = close(json.loads((CRDS / f"monitoring.coreos.com_v1_{kind}.json").read_text()))
    validator: Validator = jsonschema.Draft7Validator(schema)
    return validator


def close(schema: Any) -> Any:
    schema = copy.deepcopy(schema)
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if ("properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return schema


def crd_errors(document: dict[str, Any]) -> list[str]:
    validator = crd_validator(document["kind"])
    return [f"{document['kind']} {document['metadata']['name']}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(document)]
