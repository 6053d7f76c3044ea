"""The folder of one Kubernetes environment: which file holds which manifests, and the kustomization over them."""

from __future__ import annotations

from bizinfra.artifacts import Artifact, text_file, yaml_file
from bizinfra.naming import READINESS_GATE_LABEL
from bizinfra.plan import EnvironmentPlan, PlatformPlan
from bizinfra.targets.kubernetes.addons import (
    alert_receivers_secret,
    backup_schedule,
    external_secret,
    pull_secret,
    secret_store,
    target_group_binding,
)
from bizinfra.targets.kubernetes.bootstrap import bootstrap_documents
from bizinfra.targets.kubernetes.common import PLACEHOLDER_TAG, Manifest, metadata
from bizinfra.targets.kubernetes.connections import ca_config_map
from bizinfra.targets.kubernetes.exporters import exporter_documents
from bizinfra.targets.kubernetes.migrations import migration_files, migration_policies
from bizinfra.targets.kubernetes.network import network_policies
from bizinfra.targets.kubernetes.readme import readme
from bizinfra.targets.kubernetes.stack import monitoring_documents
from bizinfra.targets.kubernetes.workloads import service_documents

Files = list[tuple[str, list[Manifest]]]


def compile_kubernetes(plan: PlatformPlan) -> list[Artifact]:
    artifacts = []
    for env in plan.on("kubernetes"):
        folder = f"kubernetes/{env.name}"
        files = manifest_files(env)
        artifacts += [yaml_file(f"{folder}/{name}", *manifests, environment=env.name) for name, manifests in files]
        artifacts.append(yaml_file(f"{folder}/kustomization.yaml", kustomization(env, [name for name, _ in files]),
                                   environment=env.name))
        artifacts.append(text_file(f"{folder}/README.md", readme(env, files), comment="<!-- {} -->",
                                   environment=env.name))
        # The services' migration Jobs: a kustomization of their own, which the deploy applies with the release's tag
        artifacts += migration_files(env, plan.delivery)
    return artifacts


def manifest_files(env: EnvironmentPlan) -> Files:
    """Every manifest file of the folder, in apply order; empty files are left out.

    Another target's manifests join the folder by appending one (file name, documents) pair here.
    """
    files: Files = [
        ("namespace.yaml", [namespace(env)]),
        ("configmaps.yaml", [shared_config_map(env)] + [service_config_map(env, s.name) for s in env.services]
         + ca_config_map(env)),
        ("secrets.yaml", secrets(env)),
        ("network-policies.yaml", network_policies(env) + migration_policies(env)),
        # One file for every service, not one each: at a thousand services, creating files costs more than
        # compiling them, and a review still reads one service's documents together, in this order.
        ("workloads.yaml", [document for s in env.services for document in service_documents(env, s)]),
        # Per PostgreSQL store, the Job creating its databases and their roles (docs/kubernetes.md).
        ("database-bootstrap.yaml", bootstrap_documents(env)),
        # Per data store, its Prometheus exporter with its credentials, NetworkPolicy and PodMonitor.
        ("exporters.yaml", exporter_documents(env)),
        ("load-balancer.yaml", [target_group_binding(env, s) for s in env.services if s.public_host]),
        ("backup.yaml", [backup_schedule(env)]),
        # The PrometheusRule, PodMonitors and dashboard, labelled for the monitoring stack; the dashboard ConfigMap in
        # the stack's namespace, the one object outside the platform's namespace besides the velero Schedule.
        ("monitoring.yaml", monitoring_documents(env)),
    ]
    return [(name, documents) for name, documents in files if documents]


def namespace(env: EnvironmentPlan) -> Manifest:
    # Pod Security Admission `restricted`: the API server itself refuses a pod that is not hardened.
    security = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
    # Pods of a public service are Ready only once they are healthy load balancer targets, so a rollout never
    # leaves the target group with only targets in their initial health checks (docs/github.md, Blue-green).
    gate = {READINESS_GATE_LABEL: "enabled"}
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": env.namespace,
                     "labels": {**env.labels, "kubernetes.io/metadata.name": env.namespace, **security, **gate}},
    }


def shared_config_map(env: EnvironmentPlan) -> Manifest:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(env, env.config_map),
            "data": dict(env.config)}


def service_config_map(env: EnvironmentPlan, name: str) -> Manifest:
    service = env.service(name)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(env, service.config_map, service.labels),
        "data": env.service_config(service),
    }


def secrets(env: EnvironmentPlan) -> list[Manifest]:
    """The store, when anything reads from it: the image pull token, a service's secrets, a database bootstrap's or
    an exporter's credentials, or the alert receivers' URLs and keys (whose Secret is in the monitoring stack's
    namespace)."""
    external = [pull_secret(env, env.pull_secret)] if env.pull_secret else []
    external += [external_secret(env, s) for s in env.services if s.secrets]
    external += [alert_receivers_secret(env)] if env.alerting.receivers else []
    return [secret_store(env), *external] if external or env.database_bootstraps or env.exporters else []


def kustomization(env: EnvironmentPlan, resources: list[str]) -> Manifest:
    """No `namespace:` here: it would move the cluster-wide store, the velero Schedule and the dashboard ConfigMap
    (in the monitoring stack's namespace) into the app namespace.

    `images:` names each Deployment's (and CronJob's) image, so that `kustomize edit set image <deployment>=<image>:<tag>`
    releases one Deployment (one blue-green slot) without touching the others. With ECR the registry is the
    account's, which only the deploy job knows: the entry sets the placeholder tag alone, and the release sets both.
    """
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
        "images": [{"name": deployment, **({} if env.registry.ecr else {"newName": service.image}),
                    "newTag": PLACEHOLDER_TAG}
                   for service in env.services for deployment in service.deployments or (service.name,)],
    }
