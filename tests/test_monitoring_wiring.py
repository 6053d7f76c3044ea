"""The monitoring objects are wired to the monitoring stack the spec names (`monitoring.stack`), whose defaults are
the kube-prometheus-stack Helm chart's: Prometheus selects PrometheusRules and PodMonitors by `release: <release>`,
Grafana's sidecar loads ConfigMaps labelled `grafana_dashboard: "1"` in the chart's namespace, and Prometheus
scrapes from that namespace."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bizinfra.spec.models import MonitoringStack, Platform
from tests.strategies import platforms
from tests.support import bundled_platform, bundled_tree
from tests.support.kubernetes import Document, environments, of_kind, rendered
from tests.support.rules import edit_yaml, files_of, problems

_LABEL = st.from_regex(r"\A[a-z][a-z0-9-]{0,20}[a-z0-9]\Z")
EDGES = "network edges match the declared ones"


def with_stack(platform: Platform, namespace: str, release: str) -> Platform:
    monitoring = platform.monitoring.model_copy(update={"stack": MonitoringStack(namespace=namespace, release=release)})
    return platform.model_copy(update={"monitoring": monitoring})


def wiring(documents: list[Document]) -> dict[str, Any]:
    """What a Prometheus Operator stack reads of an environment's objects."""
    dashboards = [c for c in of_kind(documents, "ConfigMap") if "grafana_dashboard" in c["metadata"]["labels"]]
    scrapes = [p for p in of_kind(documents, "NetworkPolicy") if p["metadata"]["name"].endswith("-metrics")]
    return {
        "selected": [d["metadata"]["labels"].get("release")
                     for d in of_kind(documents, "PrometheusRule") + of_kind(documents, "PodMonitor")],
        "dashboards": [(c["metadata"]["namespace"], c["metadata"]["labels"]["grafana_dashboard"]) for c in dashboards],
        "scraped from": {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                         for p in scrapes for rule in p["spec"]["ingress"] for peer in rule["from"]},
    }


def test_the_defaults_are_kube_prometheus_stack_s() -> None:
    for documents in environments(rendered(bundled_platform())).values():
        found = wiring(documents)
        assert found["selected"] and set(found["selected"]) == {"kube-prometheus-stack"}
        assert found["dashboards"] == [("monitoring", "1")]
        assert found["scraped from"] == {"monitoring"}


@settings(max_examples=15)
@given(platforms(max_services=3), _LABEL, _LABEL)
def test_a_custom_stack_moves_every_occurrence(platform: Platform, namespace: str, release: str) -> None:
    files = rendered(with_stack(platform, namespace, release))
    for path, data in files.items():
        if path.endswith("README.md"):
            assert f"release `{release}` in the\n`{namespace}` namespace" in data.decode()
    for documents in environments(files).values():
        found = wiring(documents)
        # the PrometheusRule, a PodMonitor per service and one per data store's exporter
        listening = [spec for spec in platform.services.values() if spec.port is not None]  # what is scraped
        assert len(found["selected"]) == 1 + len(listening) + len(platform.datastores)
        assert set(found["selected"]) == {release}
        assert found["dashboards"] == [(namespace, "1")]
        assert found["scraped from"] == {namespace}


@pytest.mark.slow
def test_the_edges_rule_reads_the_stack_s_namespace() -> None:
    files = files_of(with_stack(bundled_platform(), "observability", "prom"))
    assert problems(files, EDGES) == []
    # A scrape admitted from the chart's default namespace, not the configured one, is an undeclared edge.
    policies = "business-app/kubernetes/staging/network-policies.yaml"
    moved = edit_yaml(files, policies, "NetworkPolicy", "auth-service-metrics", lambda policy: policy["spec"]["ingress"][0]
                      ["from"][0]["namespaceSelector"]["matchLabels"].update({"kubernetes.io/metadata.name": "monitoring"}))
    assert any("auth-service-metrics" in problem for problem in problems(moved, EDGES))


def test_the_bundled_tree_is_wired_for_the_default_stack() -> None:
    assert problems(bundled_tree(), EDGES) == []
