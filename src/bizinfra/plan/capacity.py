"""Will an environment's pods fit on its nodes? The numbers the loader's capacity check compares.

What must fit, at the worst moment of a release: every service at its minimum plus the rollout's surge (a whole
second slot in blue-green, `maxSurge` for rolling and for workers), a pod per cron job, the data stores' exporters
and bootstrap Jobs, and the add-ons the stacks install, some once per cluster, some once per node (DaemonSets).
What there is: `nodes.max` nodes of the instance type, each with the EKS AMI's pod limit and its CPU and memory
less what the AMI reserves for the system.
The scheduler counts requests, not use, so a pod without requests costs a pod slot and nothing else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bizinfra.nodes import NodeType, node_types
from bizinfra.plan.model import EnvironmentPlan, ServicePlan
from bizinfra.plan.resolve import resolve
from bizinfra.spec.models import Platform
from bizinfra.spec.quantities import memory_bytes, millicores
from bizinfra.spec.text import PathTuple

MIB = 1 << 20


@dataclass(frozen=True)
class Pods:
    """Pods of one workload and what each asks the scheduler for."""

    name: str
    count: int  # per cluster; ignored for a DaemonSet, which runs one per node
    millicores: int = 0
    mib: int = 0
    per_node: bool = False


def daemon(name: str, millicores: int = 0, mib: int = 0) -> Pods:
    return Pods(name, 1, millicores, mib, per_node=True)


# What each add-on runs, keyed as the add-on tables (addon_versions.EKS_ADDONS, charts.CHARTS) name it. Replicas and
# requests (a pod's: the sum of its containers') are those of the version pinned there with our values over them, 0
# where the chart sets none; tests/test_capacity_addons.py reads every figure again from the vendored values, all but
# coredns', kube-proxy's and the pod identity agent's, which AWS publishes nowhere to vendor (data/reference/nodes/
# SOURCES.md). Short-lived hook Jobs (CRD upgrades, webhook certificates) run before the services, not beside them,
# and are left out.
ADDON_PODS: dict[str, tuple[Pods, ...]] = {
    "vpc-cni": (daemon("aws-node", 25),),
    "kube-proxy": (daemon("kube-proxy", 100),),
    "coredns": (Pods("coredns", 2, 100, 70),),
    "eks-pod-identity-agent": (daemon("eks-pod-identity-agent"),),
    # The controller's four CSI sidecars take its requests (the chart's default), the snapshotter counted although it
    # runs only where the VolumeSnapshot API is served.
    "aws-ebs-csi-driver": (Pods("ebs-csi-controller", 2, 5 * 10, 5 * 40), daemon("ebs-csi-node", 10, 40)),
    "metrics-server": (Pods("metrics-server", 1, 100, 200),),
    # Counted as the chart renders with its defaults; Container Insights being off may leave the agents out, and
    # counting them errs on the side of refusing.
    "amazon-cloudwatch-observability": (
        Pods("amazon-cloudwatch-observability-controller-manager", 1, 100, 64),
        Pods("cloudwatch-agent-cluster-scraper", 1, 250, 128), Pods("kube-state-metrics", 1, 50, 64),
        daemon("cloudwatch-agent", 250, 128), daemon("fluent-bit", 50, 25), daemon("node-exporter", 50, 30)),
    "aws-load-balancer-controller": (Pods("aws-load-balancer-controller", 2),),
    "external-secrets": (Pods("external-secrets", 1), Pods("external-secrets-webhook", 1),
                         Pods("external-secrets-cert-controller", 1)),
    "velero": (Pods("velero", 1),),
    "cluster-autoscaler": (Pods("cluster-autoscaler", 1),),
    "kube-prometheus-stack": (
        Pods("prometheus-operator", 1), Pods("prometheus", 1), Pods("alertmanager", 1), Pods("grafana", 1),
        Pods("kube-state-metrics", 1), daemon("prometheus-node-exporter")),
}
# The exporters' and bootstrap Jobs' requests (kubernetes/exporters.py, kubernetes/bootstrap.py: the larger of the
# Job's init and main container).
EXPORTER = (25, 32)
BOOTSTRAP = (50, 128)


def running(service: ServicePlan) -> int:
    """A service's pods at the peak: its minimum and its release's surge (ServicePlan.surge: a second slot for the
    slotted services, the rolling surge for the rest). A cron job runs one pod at a time (a run that overlaps one is
    counted by its concurrency policy's default, forbid); migration Jobs finish before the release is applied, so
    they are not at the peak."""
    if service.cron:
        return 1
    return service.replicas.min + service.surge


def workload_pods(env: EnvironmentPlan) -> tuple[Pods, ...]:
    """Every pod that is not a DaemonSet's, at the busiest moment of a release."""
    pods = [Pods(service.name, running(service),
                 millicores(service.cpu_request), memory_bytes(service.memory_request) // MIB)
            for service in env.services]
    pods += [Pods(exporter.name, 1, *EXPORTER) for exporter in env.exporters]
    pods += [Pods(bootstrap.name, 1, *BOOTSTRAP) for bootstrap in env.database_bootstraps]
    pods += [each for table in ADDON_PODS.values() for each in table if not each.per_node]
    return tuple(pods)


def daemon_pods() -> tuple[Pods, ...]:
    return tuple(each for table in ADDON_PODS.values() for each in table if each.per_node)


@dataclass(frozen=True)
class Fit:
    """Needed against available, for the whole cluster at `nodes.max`, after the DaemonSets took their share."""

    nodes: int
    node: NodeType
    pods: int
    millicores: int
    mib: int
    daemon_pods: int
    daemon_millicores: int
    daemon_mib: int
    unfit: Pods | None  # a workload whose pod fits on no node beside the DaemonSets

    @property
    def node_pods(self) -> int:  # what one node has for the workloads, beside its DaemonSets
        return self.node.max_pods - self.daemon_pods

    @property
    def node_millicores(self) -> int:
        return self.node.allocatable_millicores - self.daemon_millicores

    @property
    def node_mib(self) -> int:
        return self.node.allocatable_mib - self.daemon_mib

    def shortfalls(self) -> list[tuple[str, str]]:
        """(field, sentence) for each need that does not fit: `sizes.node` when one node is too small for the
        DaemonSets or for one pod, else `nodes` when the cluster at nodes.max is, with the nodes.max that fits."""
        node = self.node
        if min(self.node_pods, self.node_millicores, self.node_mib) <= 0:
            return [("sizes.node", f"{node.name} takes {node.max_pods} pods, {node.allocatable_millicores}m of CPU "
                     f"and {node.allocatable_mib}Mi of memory; the add-ons' DaemonSets alone need {self.daemon_pods}, "
                     f"{self.daemon_millicores}m and {self.daemon_mib}Mi on every node: choose a larger node type")]
        if self.unfit:
            return [("sizes.node", f"a pod of '{self.unfit.name}' requests {self.unfit.millicores}m of CPU and "
                     f"{self.unfit.mib}Mi of memory, more than one {node.name} has beside its DaemonSets "
                     f"({self.node_millicores}m, {self.node_mib}Mi): choose a larger node type")]
        needs = (("pods", self.pods, self.node_pods, node.max_pods, self.daemon_pods, ""),
                 ("CPU requests", self.millicores, self.node_millicores, node.allocatable_millicores,
                  self.daemon_millicores, "m"),
                 ("memory requests", self.mib, self.node_mib, node.allocatable_mib, self.daemon_mib, "Mi"))
        return [("nodes", f"{what}: {needed}{unit} at the peak of a release (pods at their minimum, the rollout's "
                 f"surge, exporters, bootstrap Jobs, add-ons) do not fit on {self.nodes} x {node.name}, which leave "
                 f"{self.nodes * per_node}{unit} ({total}{unit} per node less {daemons}{unit} for DaemonSets); "
                 f"nodes.max must be at least {math.ceil(needed / per_node)}")
                for what, needed, per_node, total, daemons, unit in needs if needed > self.nodes * per_node]


def fit(env: EnvironmentPlan) -> Fit | None:
    """The environment's capacity at `nodes.max`; None on compose, or on a node type without vendored facts."""
    node = node_types().get(env.sizes.node)
    if env.runs_on != "kubernetes" or node is None:
        return None
    pods, daemons = workload_pods(env), daemon_pods()
    daemon_millicores, daemon_mib = sum(each.millicores for each in daemons), sum(each.mib for each in daemons)
    return Fit(
        nodes=env.nodes.max, node=node,
        pods=sum(each.count for each in pods),
        millicores=sum(each.count * each.millicores for each in pods),
        mib=sum(each.count * each.mib for each in pods),
        daemon_pods=len(daemons),
        daemon_millicores=daemon_millicores,
        daemon_mib=daemon_mib,
        unfit=next((each for each in pods if each.millicores > node.allocatable_millicores - daemon_millicores
                    or each.mib > node.allocatable_mib - daemon_mib), None),
    )


def capacity_problems(platform: Platform, source: str) -> list[tuple[PathTuple, str]]:
    """Per Kubernetes environment, what does not fit, at the field to change."""
    problems: list[tuple[PathTuple, str]] = []
    for env in resolve(platform, source).environments:
        found = fit(env)
        for field, message in found.shortfalls() if found else []:
            problems.append((("environments", env.name, *field.split(".")), message))
    return problems
