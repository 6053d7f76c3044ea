"""Monitoring target: Prometheus rules with their unit tests, scrape config, Alertmanager routing and a Grafana
dashboard.

`compile_monitoring` writes the plain files under `monitoring/`; `kubernetes_documents` gives the same
rules, scrape targets and dashboard as prometheus-operator and Grafana-sidecar objects, which the
Kubernetes target places in `kubernetes/<env>/monitoring.yaml`.
`alertmanager_config(env)` and `receivers_secret_name(env)` are what kube-prometheus-stack's values take as
`alertmanager.config` and in `alertmanager.alertmanagerSpec.secrets`.
"""

from bizinfra.targets.monitoring.alerting import alertmanager_config, receivers_secret_name
from bizinfra.targets.monitoring.target import compile_monitoring, kubernetes_documents

__all__ = ["alertmanager_config", "compile_monitoring", "kubernetes_documents", "receivers_secret_name"]
