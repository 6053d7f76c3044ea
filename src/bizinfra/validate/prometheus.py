"""promtool's view of the monitoring files, offline.

Debian's promtool is built without Kubernetes service discovery and rejects `kubernetes_sd_configs`, so
`check config` runs on a copy whose discovery blocks are replaced by static targets: the pods Kubernetes discovery
would report, with their `__meta_kubernetes_*` labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

STUB_NAME = "prometheus.stub.yml"


def pod_target(namespace: str, ip: str, port: int, name: str, labels: Mapping[str, str],
               annotations: Mapping[str, str], phase: str) -> dict[str, Any]:
    """One pod as Kubernetes pod discovery reports it: a target and its meta labels."""
    meta = {"__meta_kubernetes_namespace": namespace, "__meta_kubernetes_pod_name": name,
            "__meta_kubernetes_pod_ip": ip, "__meta_kubernetes_pod_phase": phase,
            "__meta_kubernetes_pod_container_port_number": str(port)}
    for key, value in labels.items():
        meta[f"__meta_kubernetes_pod_label_{sanitize(key)}"] = value
        meta[f"__meta_kubernetes_pod_labelpresent_{sanitize(key)}"] = "true"
    for key, value in annotations.items():
        meta[f"__meta_kubernetes_pod_annotation_{sanitize(key)}"] = value
        meta[f"__meta_kubernetes_pod_annotationpresent_{sanitize(key)}"] = "true"
    return {"targets": [f"{ip}:{port}"], "labels": meta}


def sanitize(key: str) -> str:
    """Prometheus' strutil.SanitizeLabelName: anything but a letter, digit or underscore becomes an underscore."""
    return "".join(c if ("a" <= c.lower() <= "z") or c.isdigit() or c == "_" else "_" for c in key)


def pods_of(deployments: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The pods these Deployments would run, one target per container port, as discovery reports them."""
    groups = []
    for index, deployment in enumerate(deployments):
        template = (deployment.get("spec") or {}).get("template") or {}
        meta = template.get("metadata") or {}
        name = (deployment.get("metadata") or {}).get("name", "pod")
        for container in (template.get("spec") or {}).get("containers") or []:
            for port in container.get("ports") or []:
                groups.append(pod_target(str((deployment.get("metadata") or {}).get("namespace", "default")),
                                         f"10.1.{index // 250}.{index % 250 + 1}", int(port["containerPort"]),
                                         f"{name}-5d8f7c9b6-x2x4z", meta.get("labels") or {},
                                         meta.get("annotations") or {}, "Running"))
    return groups


def stubbed_config(config_path: Path, static_configs: list[dict[str, Any]], folder: Path | None = None) -> Path:
    """A copy of prometheus.yml whose kubernetes_sd_configs are static targets, written beside the original or in
    `folder` (which must then hold the rule files it names)."""
    config = yaml.safe_load(config_path.read_text())
    for job in config.get("scrape_configs") or []:
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["static_configs"] = static_configs
    stub = (folder or config_path.parent) / STUB_NAME
    stub.write_text(yaml.safe_dump(config, sort_keys=False))
    return stub
