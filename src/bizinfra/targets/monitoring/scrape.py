"""How Prometheus finds the services: the seed's annotation-driven pods job for a plain Prometheus, and a
PodMonitor per service for prometheus-operator users. Both give every series the same `namespace`,
`pod` and `service` labels, which the rules and dashboards select on."""

from __future__ import annotations

from typing import Any

from bizinfra.plan import SERVICE_NAME_LABEL, SLOT_LABEL, EnvironmentPlan, ServicePlan
from bizinfra.targets.monitoring import metrics as m

SCRAPE_INTERVAL = "15s"  # seed: global scrape_interval and evaluation_interval
KUBE_STATE_METRICS = "kube-state-metrics.kube-system.svc:8080"  # the chart's Service and port, installed in kube-system
NOT_RUNNING = "Pending|Succeeded|Failed|Unknown"  # pod phases with nothing to scrape


def pods_relabelling() -> list[dict[str, Any]]:
    """The seed's relabelling, plus the labels the rules select on."""
    return [
        {"source_labels": [m.pod_annotation(m.SCRAPE_ANNOTATION)], "action": "keep", "regex": "true"},
        {"source_labels": ["__meta_kubernetes_pod_phase"], "action": "drop", "regex": NOT_RUNNING},
        {"source_labels": [m.pod_annotation(m.PATH_ANNOTATION)], "action": "replace",
         "target_label": "__metrics_path__", "regex": "(.+)"},
        {"source_labels": ["__address__", m.pod_annotation(m.PORT_ANNOTATION)], "action": "replace",
         "regex": r"([^:]+)(?::\d+)?;(\d+)", "replacement": "$1:$2", "target_label": "__address__"},
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": m.NAMESPACE},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": m.POD},
        {"source_labels": [m.pod_label(SERVICE_NAME_LABEL)], "target_label": m.SERVICE},
        {"source_labels": [m.pod_label(SLOT_LABEL)], "target_label": m.SLOT},
    ]


def alertmanagers(env: EnvironmentPlan) -> list[dict[str, Any]]:
    """The stack's Alertmanager, every replica: the SRV records of the headless Service prometheus-operator gives
    it (port `web`), so each replica gets every alert, as the operator's own Prometheus does."""
    stack = env.monitoring_stack
    return [{"dns_sd_configs": [{"names": [f"_web._tcp.{stack.alertmanager_service}.{stack.namespace}.svc"]}]}]


def prometheus_config(env: EnvironmentPlan) -> dict[str, Any]:
    """prometheus.yml for a plain Prometheus in the environment's cluster, rules.yml beside it: the seed's setup,
    and what promtool and a Prometheus outside the cluster check the rules with. kube-prometheus-stack writes its
    own configuration from the PrometheusRule and PodMonitors; this one sends alerts to that stack's Alertmanager."""
    return {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "evaluation_interval": SCRAPE_INTERVAL,
            "external_labels": {"platform": env.platform, "environment": env.name},
        },
        "rule_files": ["rules.yml"],
        "alerting": {"alertmanagers": alertmanagers(env)},
        "scrape_configs": [
            {
                "job_name": "kubernetes-pods",
                "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [env.namespace]}}],
                "relabel_configs": pods_relabelling(),
            },
            {
                "job_name": "kube-state-metrics",  # PodNotReady reads kube_pod_status_ready from it
                "honor_labels": True,  # keep its namespace and pod labels: they name the pod described
                "static_configs": [{"targets": [KUBE_STATE_METRICS]}],
            },
        ],
    }


def pod_monitor(env: EnvironmentPlan, service: ServicePlan) -> dict[str, Any]:
    """What the pods job does for one service, for prometheus-operator; it adds namespace and pod itself."""
    annotations = service.scrape_annotations
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": service.name, "namespace": env.namespace, "labels": dict(service.labels)},
        "spec": {
            "selector": {"matchLabels": dict(service.selector)},
            "podMetricsEndpoints": [{
                "portNumber": int(annotations[m.PORT_ANNOTATION]),
                "path": annotations[m.PATH_ANNOTATION],
                "interval": SCRAPE_INTERVAL,
                "relabelings": [
                    {"sourceLabels": [m.pod_label(SERVICE_NAME_LABEL)], "targetLabel": m.SERVICE},
                    {"sourceLabels": [m.pod_label(SLOT_LABEL)], "targetLabel": m.SLOT},
                ],
            }],
        },
    }
