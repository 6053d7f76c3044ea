"""The monitoring target's Kubernetes objects, wired to the monitoring stack the spec names (`monitoring.stack`).

The PrometheusRule and the PodMonitors stay in the platform's namespace (kube-prometheus-stack's Prometheus
selects them in any namespace) and gain the label it selects by; the dashboard ConfigMap moves to the stack's
namespace, where Grafana's dashboard sidecar looks for it (see `MonitoringStackPlan` for the chart's defaults).
"""

from __future__ import annotations

from bizinfra.plan import EnvironmentPlan
from bizinfra.targets.kubernetes.common import Manifest
from bizinfra.targets.monitoring import kubernetes_documents

SELECTED_BY_PROMETHEUS = ("PrometheusRule", "PodMonitor")


def monitoring_documents(env: EnvironmentPlan) -> list[Manifest]:
    stack = env.monitoring_stack
    documents = kubernetes_documents(env)
    for document in documents:
        meta = document["metadata"]
        if document["kind"] in SELECTED_BY_PROMETHEUS:
            meta["labels"] = {**meta["labels"], **stack.selector}
        elif document["kind"] == "ConfigMap":  # the dashboard
            meta["namespace"] = stack.namespace
            meta["labels"] = {**meta["labels"], **stack.dashboard_labels}
    return documents
