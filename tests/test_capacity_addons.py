"""The capacity check's add-on figures (`ADDON_PODS`) against the add-ons themselves: every replica count and request
read again from the vendored chart values (data/reference/charts/, data/reference/addons/) merged with the values our
stacks set, so a chart bump or an override that changes what runs cannot leave the check counting old numbers."""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

import bizinfra
from bizinfra.plan import EnvironmentPlan
from bizinfra.plan.capacity import ADDON_PODS, MIB
from bizinfra.spec.quantities import memory_bytes, millicores
from bizinfra.targets.terraform.addon_versions import EKS_ADDONS
from bizinfra.targets.terraform.addons import ADDONS, configuration_values
from bizinfra.targets.terraform.charts import CHARTS, chart
from bizinfra.targets.terraform.helm_releases import (
    alertmanager_wiring,
    cluster_autoscaler_values,
    external_secrets_values,
    load_balancer_controller_values,
    monitoring_stack_values,
    velero_values,
)
from tests.support import bundled_plan

REFERENCE = Path(bizinfra.__file__).parent / "data" / "reference"
# EKS add-ons whose manifests AWS builds and publishes nowhere to vendor: their figures stay as typed in capacity.py,
# and SOURCES.md says so. Anything else must be read here.
NOT_VENDORED = {("coredns", "coredns"), ("kube-proxy", "kube-proxy"),
                ("eks-pod-identity-agent", "eks-pod-identity-agent")}

Figure = tuple[int | None, int, int]  # pods per cluster (None: a DaemonSet's, one per node), millicores, MiB


def vendored(path: str) -> Any:
    data = (REFERENCE / path).read_bytes()
    return yaml.safe_load(gzip.decompress(data) if path.endswith(".gz") else data)


def merged(base: Any, override: Any) -> Any:
    """Helm's merge of a release's values over the chart's: maps merge key by key, anything else is replaced."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        return {**base, **{key: merged(base.get(key), value) for key, value in override.items()}}
    return override


@cache
def production() -> EnvironmentPlan:
    return next(env for env in bundled_plan().environments if env.production)


def chart_values(name: str) -> dict[str, Any]:
    """A chart's values as the release installs them: the vendored defaults with our stack's values over them."""
    env = production()
    ours = {
        "aws-load-balancer-controller": load_balancer_controller_values,
        "external-secrets": external_secrets_values,
        "velero": velero_values,
        "cluster-autoscaler": cluster_autoscaler_values,
        "kube-prometheus-stack": lambda env: monitoring_stack_values(env, alertmanager_wiring(env)),
    }[name](env)
    folder = f"charts/{name}-{chart(name).version}"
    file = "values.yaml.gz" if (REFERENCE / folder / "values.yaml.gz").exists() else "values.yaml"
    return merged(vendored(f"{folder}/{file}"), ours)


def addon_values(name: str, file: str) -> dict[str, Any]:
    """An EKS add-on's chart values with our `configuration_values` over them."""
    spec = next(addon for addon in ADDONS if addon.name == name)
    return merged(vendored(f"addons/{file}"), configuration_values(spec))


def requests(*containers: Mapping[str, Any] | None) -> tuple[int, int]:
    """What a pod of these containers' `resources` asks the scheduler for: the sum of their requests."""
    asked = [(container or {}).get("requests", {}) for container in containers]
    return (sum(millicores(each["cpu"]) for each in asked if "cpu" in each),
            sum(memory_bytes(each["memory"]) // MIB for each in asked if "memory" in each))


def charts_pods() -> dict[tuple[str, str], Figure]:
    lbc, eso = chart_values("aws-load-balancer-controller"), chart_values("external-secrets")
    velero, autoscaler = chart_values("velero"), chart_values("cluster-autoscaler")
    stack = chart_values("kube-prometheus-stack")
    assert velero["deployNodeAgent"] is False  # else a node agent DaemonSet to count
    assert not stack["prometheusOperator"]["admissionWebhooks"]["deployment"]["enabled"]
    assert not stack["thanosRuler"]["enabled"]
    prometheus, alertmanager = stack["prometheus"]["prometheusSpec"], stack["alertmanager"]["alertmanagerSpec"]
    # Grafana, kube-state-metrics and node-exporter are subcharts whose own values are not vendored: one replica and
    # no requests are their charts' defaults, and the stack's values must not set either.
    grafana, state, node = stack["grafana"], stack["kube-state-metrics"], stack["prometheus-node-exporter"]
    assert not {"replicas", "resources"} & (set(grafana) | set(state) | set(node))
    return {
        ("aws-load-balancer-controller", "aws-load-balancer-controller"): (lbc["replicaCount"],
                                                                           *requests(lbc["resources"])),
        ("external-secrets", "external-secrets"): (eso["replicaCount"], *requests(eso["resources"])),
        ("external-secrets", "external-secrets-webhook"): (eso["webhook"]["replicaCount"],
                                                           *requests(eso["webhook"]["resources"])),
        ("external-secrets", "external-secrets-cert-controller"): (eso["certController"]["replicaCount"],
                                                                   *requests(eso["certController"]["resources"])),
        ("velero", "velero"): (1, *requests(velero["resources"])),  # the chart's Deployment has one replica
        ("cluster-autoscaler", "cluster-autoscaler"): (autoscaler["replicaCount"], *requests(autoscaler["resources"])),
        ("kube-prometheus-stack", "prometheus-operator"): (1, *requests(stack["prometheusOperator"]["resources"])),
        ("kube-prometheus-stack", "prometheus"): (prometheus["replicas"], *requests(prometheus["resources"])),
        ("kube-prometheus-stack", "alertmanager"): (alertmanager["replicas"], *requests(alertmanager["resources"])),
        ("kube-prometheus-stack", "grafana"): (1, 0, 0),
        ("kube-prometheus-stack", "kube-state-metrics"): (1, 0, 0),
        ("kube-prometheus-stack", "prometheus-node-exporter"): (None, 0, 0),
    }


def eks_addons_pods() -> dict[tuple[str, str], Figure]:
    cni = addon_values("vpc-cni", "aws-vpc-cni-1.20.4.values.yaml")
    ebs = addon_values("aws-ebs-csi-driver", "aws-ebs-csi-driver-2.63.0.values.yaml")
    cloudwatch = addon_values("amazon-cloudwatch-observability", "amazon-cloudwatch-observability-6.4.0.values.yaml")
    metrics = vendored("addons/metrics-server-0.9.0.deployment.yaml")["spec"]
    sidecars, controller = ebs["sidecars"], ebs["controller"]["resources"]
    # The controller's sidecars without requests of their own take the controller's (templates/controller.yaml:
    # `default .Values.controller.resources .Values.sidecars.<name>.resources`); the snapshotter is counted although
    # it only runs where the VolumeSnapshot API is served, erring toward refusing. The liveness probe's are its own.
    controller_pod = requests(controller, *(sidecars[name]["resources"] or controller
                                            for name in ("provisioner", "attacher", "snapshotter", "resizer")),
                              sidecars["livenessProbe"]["resources"])
    agent = cloudwatch["agent"]
    scraper = next(each for each in cloudwatch["agents"] if each.get("mode") == "deployment")
    return {
        # aws-node: the CNI and, with network policies on, its node agent (init container: no requests)
        ("vpc-cni", "aws-node"): (None, *requests(cni["resources"], cni["nodeAgent"]["resources"])),
        ("aws-ebs-csi-driver", "ebs-csi-controller"): (ebs["controller"]["replicaCount"], *controller_pod),
        ("aws-ebs-csi-driver", "ebs-csi-node"): (None, *requests(ebs["node"]["resources"],
                                                                 sidecars["nodeDriverRegistrar"]["resources"],
                                                                 sidecars["livenessProbe"]["resources"])),
        ("metrics-server", "metrics-server"): (metrics.get("replicas", 1), *requests(
            *(container.get("resources") for container in metrics["template"]["spec"]["containers"]))),
        ("amazon-cloudwatch-observability", "amazon-cloudwatch-observability-controller-manager"): (
            cloudwatch["replicaCount"], *requests(cloudwatch["manager"]["resources"])),
        ("amazon-cloudwatch-observability", scraper["name"]): (agent["replicas"], *requests(agent["resources"])),
        ("amazon-cloudwatch-observability", "kube-state-metrics"): (
            1, *requests(cloudwatch["kubeStateMetrics"]["resources"])),
        ("amazon-cloudwatch-observability", "cloudwatch-agent"): (None, *requests(agent["resources"])),
        ("amazon-cloudwatch-observability", "fluent-bit"): (
            None, *requests(cloudwatch["containerLogs"]["fluentBit"]["resources"])),
        ("amazon-cloudwatch-observability", "node-exporter"): (None, *requests(cloudwatch["nodeExporter"]["resources"])),
    }


def test_every_addon_figure_is_what_the_vendored_values_and_our_overrides_run() -> None:
    counted = {(addon, pods.name): (None if pods.per_node else pods.count, pods.millicores, pods.mib)
               for addon, table in ADDON_PODS.items() for pods in table}
    upstream = {**charts_pods(), **eks_addons_pods()}
    assert set(counted) == set(upstream) | NOT_VENDORED
    assert {addon for addon, _ in counted} == set(EKS_ADDONS) | {each.name for each in CHARTS}
    assert {key: counted[key] for key in upstream} == upstream
