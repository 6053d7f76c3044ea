"""One small function per manifest; each reads like the document it builds."""

from __future__ import annotations

from typing import Any

from bizinfra.artifacts import Artifact, yaml_file
from bizinfra.plan import EnvironmentPlan, PlatformPlan, ServicePlan

Manifest = dict[str, Any]


def compile_kubernetes(plan: PlatformPlan) -> list[Artifact]:
    artifacts = []
    for env in plan.on("kubernetes"):
        folder = f"kubernetes/{env.name}"
        files = {
            "namespace.yaml": [namespace(env)],
            "configmaps.yaml": [shared_config_map(env)] + [service_config_map(env, s) for s in env.services],
        }
        artifacts += [yaml_file(f"{folder}/{name}", *manifests, environment=env.name) for name, manifests in files.items()]
        artifacts.append(yaml_file(f"{folder}/kustomization.yaml", kustomization(env, list(files)), environment=env.name))
    return artifacts


def metadata(env: EnvironmentPlan, name: str, labels: dict[str, str] | None = None) -> Manifest:
    return {"name": name, "namespace": env.namespace, "labels": dict(labels or env.labels)}


def namespace(env: EnvironmentPlan) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": env.namespace, "labels": {**env.labels, "kubernetes.io/metadata.name": env.namespace}},
    }


def shared_config_map(env: EnvironmentPlan) -> Manifest:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(env, env.config_map), "data": dict(env.config)}


def service_config_map(env: EnvironmentPlan, service: ServicePlan) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(env, service.config_map, dict(service.labels)),
        "data": dict(service.config),
    }


def kustomization(env: EnvironmentPlan, resources: list[str]) -> Manifest:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": env.namespace,
        "resources": resources,
    }
