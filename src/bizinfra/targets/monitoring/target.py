"""The files and objects of the monitoring target, one small function per document."""

from __future__ import annotations

from typing import Any

from bizinfra.artifacts import Artifact, json_file, yaml_file
from bizinfra.plan import EnvironmentPlan, PlatformPlan
from bizinfra.render import to_json
from bizinfra.targets.monitoring.alerting import alertmanager_config, routing_expectations
from bizinfra.targets.monitoring.dashboard import dashboard
from bizinfra.targets.monitoring.rule_tests import rule_tests
from bizinfra.targets.monitoring.rules import rule_groups
from bizinfra.targets.monitoring.scrape import pod_monitor, prometheus_config

DASHBOARD_LABEL = {"grafana_dashboard": "1"}  # what the Grafana sidecar (kiwigrid/k8s-sidecar) looks for by default


def compile_monitoring(plan: PlatformPlan) -> list[Artifact]:
    """Per Kubernetes environment: rules.yml, rules.test.yml, prometheus.yml, alertmanager.yml and the routing it
    must do (alertmanager.routes.yml); one dashboard per platform."""
    environments = plan.on("kubernetes")
    artifacts = []
    for env in environments:
        folder = f"monitoring/{env.name}"
        artifacts += [
            yaml_file(f"{folder}/rules.yml", {"groups": rule_groups(env)}, environment=env.name),
            yaml_file(f"{folder}/rules.test.yml", rule_tests(env), environment=env.name),
            yaml_file(f"{folder}/prometheus.yml", prometheus_config(env), environment=env.name),
            yaml_file(f"{folder}/alertmanager.yml", alertmanager_config(env), environment=env.name),
            yaml_file(f"{folder}/alertmanager.routes.yml", routing_expectations(env), environment=env.name),
        ]
    if environments:
        artifacts.append(json_file("monitoring/dashboard.json", dashboard(plan.name, plan.namespace, plan.slo)))
    return artifacts


def kubernetes_documents(env: EnvironmentPlan) -> list[dict[str, Any]]:
    """The PrometheusRule, a PodMonitor per service and the dashboard ConfigMap of one environment."""
    return [prometheus_rule(env), *(pod_monitor(env, service) for service in env.services if service.scraped),
            dashboard_config_map(env)]


def prometheus_rule(env: EnvironmentPlan) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": f"{env.platform}-rules", "namespace": env.namespace, "labels": dict(env.labels)},
        "spec": {"groups": rule_groups(env)},
    }


def dashboard_config_map(env: EnvironmentPlan) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{env.platform}-dashboard", "namespace": env.namespace,
                     "labels": {**env.labels, **DASHBOARD_LABEL}},
        "data": {f"{env.platform}.json": to_json(dashboard(env.platform, env.namespace, env.slo))},
    }
