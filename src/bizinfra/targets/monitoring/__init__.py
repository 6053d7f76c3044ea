"""Monitoring target: Prometheus rules with their unit tests, scrape config and a Grafana dashboard.

`compile_monitoring` writes the plain files under `monitoring/`; `kubernetes_documents` gives the same
rules, scrape targets and dashboard as prometheus-operator and Grafana-sidecar objects, which the
Kubernetes target places in `kubernetes/<env>/monitoring.yaml`.
"""

from bizinfra.targets.monitoring.target import compile_monitoring, kubernetes_documents

__all__ = ["compile_monitoring", "kubernetes_documents"]
