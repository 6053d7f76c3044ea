"""The cluster add-ons' stack, `terraform/<env>/addons/`: the Helm releases the manifests rely on, in a stack of
their own, applied after the environment's stack.

A provider cannot be configured from a resource of the same apply (Terraform plans the provider before the cluster
exists), so this stack finds the cluster the environment's stack made by name, through data sources, and configures
the helm provider from them. Every value a release needs comes from the plan or from those data sources; the charts
and their versions come from one table (charts.py).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bizinfra.naming import SLO_PERIOD, VOLUME_STORAGE_CLASS, cluster_autoscaler_tags
from bizinfra.plan import EnvironmentPlan, WorkloadIdentity
from bizinfra.targets.monitoring.alerting import alertmanager_config, receivers_secret_name
from bizinfra.targets.terraform.blocks import Block, merge
from bizinfra.targets.terraform.charts import (
    CLUSTER_AUTOSCALER_CHART,
    CLUSTER_AUTOSCALER_IMAGE_TAG,
    EXTERNAL_SECRETS_CHART,
    HELM_PROVIDER_VERSION,
    LOAD_BALANCER_CONTROLLER_CHART,
    MONITORING_STACK_CHART,
    VELERO_AWS_PLUGIN_IMAGE,
    VELERO_CHART,
    Chart,
)
from bizinfra.targets.terraform.handles import Data, Resource
from bizinfra.targets.terraform.settings import AWS_PROVIDER_VERSION, TERRAFORM_VERSION

CLUSTER = Data("aws_eks_cluster", "main")
CLUSTER_AUTH = Data("aws_eks_cluster_auth", "main")
BACKUP_BUCKET = Data("aws_s3_bucket", "backups")
# How long Terraform waits for a release's resources to be ready (helm --wait): kube-prometheus-stack pulls a dozen
# images and binds a volume on a fresh node.
RELEASE_TIMEOUT_SECONDS = 900
MAX_HISTORY = 10  # release revisions Helm keeps, so a rollback has somewhere to go without growing forever

# -- Prometheus' disk: 30 days of data for the 30-day error budget ------------------------------------------------
# The volume is sized by the Prometheus storage docs' formula, needed_disk = retention_time_seconds *
# ingested_samples_per_second * bytes_per_sample, with an estimate of the series the stack scrapes:
SCRAPE_INTERVAL_SECONDS = 30  # kube-prometheus-stack's default (prometheusSpec.scrapeInterval unset)
BYTES_PER_SAMPLE = 2  # "on average, Prometheus uses only around 1-2 bytes per sample" (docs: Storage)
BASE_SERIES = 50_000  # API server, kube-state-metrics, the operator, Alertmanager and Grafana on a small cluster
SERIES_PER_NODE = 3_000  # node-exporter, the kubelet and cAdvisor on one node
SERIES_PER_POD = 1_000  # a service pod's request histograms, process metrics and kube-state-metrics' rows
HEADROOM = 1.5  # the write-ahead log, compaction's temporary blocks and a busier month than the estimate
RETENTION_SIZE_SHARE = 0.85  # Prometheus drops the oldest blocks before the disk fills, never the newest
STORAGE_CLASS = VOLUME_STORAGE_CLASS  # the EBS CSI add-on's default class: gp3, encrypted with the environment's key


@dataclass(frozen=True)
class Ref:
    """A Terraform expression inside a release's values: written as `${...}` into the values text, while every
    literal `${` or `%{` in it is escaped, so Terraform interpolates only what is meant."""

    expression: str


@dataclass(frozen=True)
class AlertmanagerWiring:
    """What the kube-prometheus-stack release gives Alertmanager: its configuration (`alertmanager.config`; None: the
    chart's default) and the Secrets it mounts under /etc/alertmanager/secrets/ (`alertmanagerSpec.secrets`)."""

    config: Mapping[str, Any] | None = None
    secrets: tuple[str, ...] = ()


def alertmanager_wiring(env: EnvironmentPlan) -> AlertmanagerWiring:
    """The monitoring target's routing (the same document as `monitoring/<env>/alertmanager.yml`), and the Secret
    its ExternalSecret fills with the receivers' keys, which exists only when receivers are declared."""
    secrets = (receivers_secret_name(env),) if env.alerting.receivers else ()
    return AlertmanagerWiring(alertmanager_config(env), secrets)


def addons_files(env: EnvironmentPlan, alertmanager: AlertmanagerWiring | None = None) -> dict[str, Block]:
    return {
        "versions.tf.json": versions(env),
        "main.tf.json": merge(providers(env), lookups(env)),
        "releases.tf.json": releases(env, alertmanager or alertmanager_wiring(env)),
    }


def versions(env: EnvironmentPlan) -> Block:
    """Its own state object beside the environment's, in the same bucket, locked the same way."""
    return {"terraform": {
        "required_version": TERRAFORM_VERSION,
        "required_providers": {"aws": {"source": "hashicorp/aws", "version": AWS_PROVIDER_VERSION},
                               "helm": {"source": "hashicorp/helm", "version": HELM_PROVIDER_VERSION}},
        "backend": {"s3": {"bucket": env.deploy.state_bucket, "key": env.deploy.addons_state_key,
                           "region": env.region, "encrypt": True, "use_lockfile": True}},
    }}


def providers(env: EnvironmentPlan) -> Block:
    """The helm provider reaches the cluster through data sources only. The token (aws_eks_cluster_auth) lasts 15
    minutes, longer than the releases' waits together take on a working cluster."""
    return {"provider": {
        "aws": {"region": env.region},
        "helm": {"kubernetes": {
            "host": CLUSTER.ref("endpoint"),
            "cluster_ca_certificate": "${base64decode(" + CLUSTER.address + ".certificate_authority[0].data)}",
            "token": CLUSTER_AUTH.ref("token"),
        }},
    }}


def lookups(env: EnvironmentPlan) -> Block:
    """What the environment's stack made, found by the names the plan gives it: the plan fails here, before any
    release, when that stack has not been applied."""
    return merge(
        CLUSTER.declare({"name": env.cluster_name}),
        CLUSTER_AUTH.declare({"name": env.cluster_name}),
        BACKUP_BUCKET.declare({"bucket": env.backups.bucket}),
    )


def releases(env: EnvironmentPlan, alertmanager: AlertmanagerWiring) -> Block:
    return merge(
        release(LOAD_BALANCER_CONTROLLER_CHART, identity(env, LOAD_BALANCER_CONTROLLER_CHART).namespace,
                load_balancer_controller_values(env),
                "Registers pods in the target groups Terraform made (TargetGroupBindings); serves their CRD."),
        # CRDs before any ExternalSecret: with installCRDs the chart's templates carry the external-secrets.io CRDs,
        # which Helm creates first, and `wait` holds the apply until the operator and its webhook are ready; the
        # manifests are applied after this stack (the infrastructure workflow applies it before any deploy job).
        release(EXTERNAL_SECRETS_CHART, identity(env, EXTERNAL_SECRETS_CHART).namespace, external_secrets_values(env),
                "Fills the services' Secrets from Secrets Manager; serves the ExternalSecret CRDs."),
        release(VELERO_CHART, identity(env, VELERO_CHART).namespace, velero_values(env),
                "Backs up the platform's namespace to the backup bucket; serves the Schedule CRD."),
        release(CLUSTER_AUTOSCALER_CHART, identity(env, CLUSTER_AUTOSCALER_CHART).namespace,
                cluster_autoscaler_values(env), "Resizes the node group between the spec's node bounds."),
        release(MONITORING_STACK_CHART, env.monitoring_stack.namespace, monitoring_stack_values(env, alertmanager),
                "Prometheus, Alertmanager and Grafana; serves the PrometheusRule and PodMonitor CRDs.",
                name=env.monitoring_stack.release),
    )


def release_resource(chart: Chart) -> Resource:
    return Resource("helm_release", chart.name.replace("-", "_"))


def release(chart: Chart, namespace: str, values: Mapping[str, Any], description: str, *,
            name: str | None = None) -> Block:
    return release_resource(chart).declare({
        "name": name or chart.name,
        "description": description,
        "namespace": namespace,
        "create_namespace": True,
        "repository": chart.repository,
        "chart": chart.name,
        "version": chart.version,
        "values": [encode_values(values)],
        "wait": True,
        "timeout": RELEASE_TIMEOUT_SECONDS,
        "max_history": MAX_HISTORY,
        "cleanup_on_fail": True,
    })


def identity(env: EnvironmentPlan, chart: Chart) -> WorkloadIdentity:
    """The Pod Identity the chart's ServiceAccount gets (the environment's stack associates namespace and name)."""
    return next(identity for identity in env.identities if identity.name == chart.identity)


def at(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """`("a", "b"), v` -> `{"a": {"b": v}}`: a value at a chart's values path."""
    nested: dict[str, Any] = {path[-1]: value}
    for key in reversed(path[:-1]):
        nested = {key: nested}
    return nested


def service_account(env: EnvironmentPlan, chart: Chart) -> dict[str, Any]:
    """The chart's ServiceAccount named as its Pod Identity association names it."""
    return at(chart.service_account, identity(env, chart).service_account)


# -- each chart's values ------------------------------------------------------------------------------------------


def load_balancer_controller_values(env: EnvironmentPlan) -> dict[str, Any]:
    chart = LOAD_BALANCER_CONTROLLER_CHART
    return {
        **service_account(env, chart),
        "clusterName": Ref(CLUSTER.address + ".name"),
        "region": env.region,
        "vpcId": Ref(CLUSTER.address + ".vpc_config[0].vpc_id"),
        # Terraform owns the load balancer; no Service here is of type LoadBalancer, and the webhook would make
        # creating any Service fail while the controller is down.
        "enableServiceMutatorWebhook": False,
    }


def external_secrets_values(env: EnvironmentPlan) -> dict[str, Any]:
    return {**service_account(env, EXTERNAL_SECRETS_CHART), "installCRDs": True}


def velero_values(env: EnvironmentPlan) -> dict[str, Any]:
    """The AWS plugin as an init container; backups in the environment's bucket and region; credentials from EKS
    Pod Identity (the AWS SDK's container credentials), so no Secret."""
    return {
        **service_account(env, VELERO_CHART),
        "initContainers": [{"name": "velero-plugin-for-aws", "image": VELERO_AWS_PLUGIN_IMAGE,
                            "imagePullPolicy": "IfNotPresent",
                            "volumeMounts": [{"mountPath": "/target", "name": "plugins"}]}],
        "credentials": {"useSecret": False},
        "configuration": {
            "backupStorageLocation": [{"name": "default", "provider": "aws", "default": True,
                                       "bucket": Ref(BACKUP_BUCKET.address + ".id"), "config": {"region": env.region}}],
            "volumeSnapshotLocation": [{"name": "default", "provider": "aws", "config": {"region": env.region}}],
        },
        "snapshotsEnabled": True,
    }


def cluster_autoscaler_values(env: EnvironmentPlan) -> dict[str, Any]:
    return {
        **service_account(env, CLUSTER_AUTOSCALER_CHART),
        "cloudProvider": "aws",
        "awsRegion": env.region,
        "autoDiscovery": {"clusterName": Ref(CLUSTER.address + ".name"),
                          "tags": sorted(cluster_autoscaler_tags(env.cluster_name))},
        "image": {"tag": CLUSTER_AUTOSCALER_IMAGE_TAG},
        # One node group per environment today; balancing keeps a second one (another zone or size) even, and
        # least-waste picks the group whose nodes the pending pods fill best.
        "extraArgs": {"balance-similar-node-groups": True, "skip-nodes-with-local-storage": False,
                      "expander": "least-waste"},
    }


def monitoring_stack_values(env: EnvironmentPlan, alertmanager: AlertmanagerWiring) -> dict[str, Any]:
    """Prometheus keeps the SLO window (the 30-day budget's rules read 30 days back) on a gp3 volume sized for it;
    Grafana's sidecar loads the dashboard ConfigMap by the labels the monitoring target gives it."""
    storage = prometheus_storage_gib(env)
    label, value = next(iter(env.monitoring_stack.dashboard_labels.items()))
    alertmanager_values: dict[str, Any] = {"alertmanagerSpec": {"secrets": list(alertmanager.secrets)}}
    if alertmanager.config is not None:
        alertmanager_values["config"] = dict(alertmanager.config)
    return {
        "prometheus": {"prometheusSpec": {
            "retention": SLO_PERIOD,
            "retentionSize": f"{math.floor(storage * RETENTION_SIZE_SHARE)}GB",  # Prometheus' GB are GiB
            "storageSpec": {"volumeClaimTemplate": {"spec": {
                "storageClassName": STORAGE_CLASS, "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": f"{storage}Gi"}}}}},
        }},
        "grafana": {"sidecar": {"dashboards": {"enabled": True, "label": label, "labelValue": value}}},
        "alertmanager": alertmanager_values,
        # EKS runs these on its control plane, out of Prometheus' reach: scraping them only fires TargetDown.
        **{component: {"enabled": False} for component in
           ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy")},
    }


def retention_seconds() -> int:
    """SLO_PERIOD (`30d`) in seconds."""
    match = re.fullmatch(r"(\d+)d", SLO_PERIOD)
    if match is None:
        raise ValueError(f"SLO_PERIOD {SLO_PERIOD} is not in days")
    return int(match[1]) * 86400


def scraped_series(env: EnvironmentPlan) -> int:
    """The series the stack scrapes at the environment's largest: every node and every service pod at its maximum."""
    pods = sum(service.replicas.max * len(service.deployments) for service in env.services)
    return BASE_SERIES + SERIES_PER_NODE * env.nodes.max + SERIES_PER_POD * pods


def prometheus_storage_gib(env: EnvironmentPlan) -> int:
    """The volume for SLO_PERIOD of samples with headroom, in whole tens of GiB (at least 20)."""
    needed = retention_seconds() * scraped_series(env) / SCRAPE_INTERVAL_SECONDS * BYTES_PER_SAMPLE * HEADROOM
    return max(20, math.ceil(needed / 2**30 / 10) * 10)


# -- values as Terraform writes them --------------------------------------------------------------------------


def encode_values(values: Mapping[str, Any]) -> str:
    """The values as JSON text (which Helm reads as YAML), sorted; `Ref`s become interpolations, and any literal
    `${` or `%{` is escaped so Terraform passes it through unchanged."""
    refs: list[str] = []

    def mark(value: Any) -> Any:
        if isinstance(value, Ref):
            refs.append(value.expression)
            return f"\0{len(refs) - 1}\0"
        if isinstance(value, Mapping):
            return {key: mark(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [mark(item) for item in value]
        return value

    text = json.dumps(mark(values), sort_keys=True).replace("${", "$${").replace("%{", "%%{")
    return re.sub(r"\\u0000(\d+)\\u0000", lambda match: "${" + refs[int(match[1])] + "}", text)
