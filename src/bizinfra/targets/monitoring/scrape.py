"""How Prometheus finds the services: the seed's annotation-driven pods job for a plain Prometheus, and a
PodMonitor per service for prometheus-operator users. Both give every series the same `namespace`,
`pod` and `service` labels, which the rules and dashboards select on."""

from __future__ import annotations

from typing import Any

from bizinfra.plan import SERVICE_NAME_LABEL, SLOT_LABEL, EnvironmentPlan, ServicePlan
from bizinfra.targets.monitoring import metrics as m

SCRAPE_INTERVAL = "15s"  # seed: global scrape_interval and evaluation_interval
ALERTMANAGER = "alertmanager:9093"  # seed: the Alertmanager beside Prometheus in the monitoring namespace
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


def prometheus_config(env: EnvironmentPlan) -> dict[str, Any]:
    """prometheus.yml for a Prometheus in the environment's cluster; rules.yml sits beside it."""
    return {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "evaluation_interval": SCRAPE_INTERVAL,
            "external_labels": {"platform": env.platform, "environment": env.name},
        },
        "rule_files": ["rules.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [ALERTMANAGER]}]}]},
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
