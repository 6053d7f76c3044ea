"""Accessors for the generated documents the rules read: Kubernetes objects and Terraform references.

Every accessor tolerates a missing or misshapen field (a hand edit may leave one), returning an empty value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

NAME, PART_OF = "app.kubernetes.io/name", "app.kubernetes.io/part-of"
WORKLOADS = ("Deployment", "Job", "CronJob")  # the kinds whose pod templates run containers
_TF_ADDRESS = re.compile(r"^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.[a-z_]+\}$")
_URL_PORT = re.compile(r"^https?://[^/:]+:(\d+)")


def name_of(document: Mapping[str, Any]) -> str:
    """`Kind/name`, as problems name an object."""
    return f"{document.get('kind')}/{(document.get('metadata') or {}).get('name')}"


def meta(document: Mapping[str, Any]) -> dict[str, Any]:
    found = document.get("metadata")
    return found if isinstance(found, dict) else {}


def labels(document: Mapping[str, Any]) -> dict[str, Any]:
    return meta(document).get("labels") or {}


def pod(workload: Mapping[str, Any]) -> dict[str, Any]:
    """A Deployment's or Job's pod template, or a CronJob's (in its Job template)."""
    spec = workload.get("spec") or {}
    if workload.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return spec.get("template") or {}


def pod_spec(workload: Mapping[str, Any]) -> dict[str, Any]:
    return pod(workload).get("spec") or {}


def containers(workload: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(pod_spec(workload).get("containers") or [])


def all_containers(workload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Init containers and containers."""
    return list(pod_spec(workload).get("initContainers") or []) + containers(workload)


def env_values(container: Mapping[str, Any]) -> dict[str, Any]:
    """A container's plain `env` values by name (those set from a Secret or ConfigMap are left out)."""
    return {item.get("name"): item.get("value") for item in container.get("env") or [] if "value" in item}


def service_of(document: Mapping[str, Any]) -> str | None:
    """The bizinfra service an object belongs to, by its name label."""
    value = labels(document).get(NAME)
    return value if isinstance(value, str) else None


def selected_name(selector: Any) -> Any:
    """The name label a `podSelector`-shaped mapping selects, or None."""
    return ((selector or {}).get("matchLabels") or {}).get(NAME)


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def url_port(value: Any) -> str | None:
    """The explicit port of an http(s) URL."""
    match = _URL_PORT.match(str(value))
    return match[1] if match else None


def terraform_address(reference: Any) -> tuple[str, str] | None:
    """`${type.label.attribute}` as (type, label)."""
    match = _TF_ADDRESS.match(str(reference))
    return (match[1], match[2]) if match else None


def security_group(reference: Any) -> str | None:
    """The label of the `aws_security_group` a reference names."""
    address = terraform_address(reference)
    return address[1] if address and address[0] == "aws_security_group" else None
