"""The monitoring target: judged by promtool (rules, unit tests, config, service discovery), the upstream
prometheus-operator CRD schemas and kubernetes-validate; over the bundled spec and random platforms."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings

from bizinfra.plan import SERVICE_NAME_LABEL, EnvironmentPlan
from bizinfra.spec.models import Platform
from bizinfra.spec.quantities import seconds
from bizinfra.targets import compile_plan
from bizinfra.targets.monitoring import kubernetes_documents
from bizinfra.targets.monitoring import metrics as m
from bizinfra.targets.monitoring.rule_tests import rule_tests
from bizinfra.validate.prometheus import pod_target, stubbed_config
from tests.strategies import platforms
from tests.support import BUNDLED_SPEC, ROOT, bundled_plan, bundled_platform, plan_of, require_tool
from tests.support.monitoring import (
    assert_ok,
    crd_errors,
    discovered_pods,
    promtool,
    run,
    write_tree,
)

# One rule each per environment, over all its services; ServiceDown is one rule per service (absent() names one).
AGGREGATED_ALERTS = {"HighErrorRate", "HighLatency", "PodNotReady", "ErrorBudgetFastBurn", "ErrorBudgetSlowBurn",
                     "RequestMetricsMissing"}
POSTGRES_ALERTS = ["DatabaseConnectionFailed", "DatabaseMetricsMissing"]
REDIS_ALERTS = ["RedisConnectionFailed", "RedisMetricsMissing", "RedisMemoryNearLimit", "RedisEvictions",
                "RedisConnectionsNearLimit", "RedisRejectedConnections"]
REPLICATION_ALERTS = ["RedisReplicasMissing", "RedisMasterLinkDown"]  # where the environment is highly available


def store_alerts(engines: list[str], highly_available: bool) -> list[str]:
    """The data store alerts an environment with stores of these engines has, one of each per store."""
    redis = REDIS_ALERTS + (REPLICATION_ALERTS if highly_available else [])
    return [alert for engine in engines for alert in (POSTGRES_ALERTS if engine == "postgres" else redis)]
SERVICE_TEMPLATE = "{{ $labels.service }}"
# Google SRE workbook, "Alerting on SLOs", table 5-8: burn rate factor -> its long and short window.
BURN_WINDOWS = {"ErrorBudgetFastBurn": {14.4: {"1h", "5m"}, 6.0: {"6h", "30m"}},
                "ErrorBudgetSlowBurn": {3.0: {"1d", "2h"}, 1.0: {"3d", "6h"}}}


def rule_groups(folder: Path, env: str) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load((folder / "monitoring" / env / "rules.yml").read_text())["groups"]
    return groups


def alerts(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


# -- the bundled spec -----------------------------------------------------------------------------------------


def test_bundled_spec_gets_rules_tests_and_scrape_config_per_kubernetes_environment(tmp_path: Path) -> None:
    plan = bundled_plan()
    files = write_tree(plan, tmp_path)
    assert sorted(files) == [
        "monitoring/dashboard.json",
        *(f"monitoring/{env}/{name}" for env in ("production", "staging")
          for name in ("alertmanager.routes.yml", "alertmanager.yml", "prometheus.yml", "rules.test.yml", "rules.yml")),
    ]  # development runs on compose: no Prometheus of ours there
    assert "monitoring/dashboard.json" in {a.path for a in compile_plan(plan)}  # registered as a target


def test_bundled_rules_pass_promtool_check_and_their_unit_tests(tmp_path: Path) -> None:
    plan = bundled_plan()
    files = write_tree(plan, tmp_path)
    assert_ok(promtool("check", "rules", files["monitoring/staging/rules.yml"],
                       files["monitoring/production/rules.yml"]))
    result = promtool("test", "rules", files["monitoring/staging/rules.test.yml"],
                      files["monitoring/production/rules.test.yml"])
    assert_ok(result)
    assert result.stdout.count("SUCCESS") == 2


def test_bundled_alerts_carry_the_seed_thresholds(tmp_path: Path) -> None:
    """The spec says 99.9% availability, p95 under 1s and at most 5% errors; the seed's alert durations."""
    plan = bundled_plan()
    write_tree(plan, tmp_path)
    rules = alerts(rule_groups(tmp_path, "production"))
    by_name = {rule["alert"]: rule for rule in rules if rule["alert"] != "ServiceDown"}
    assert sorted(rule["alert"] for rule in rules) == sorted(
        [*AGGREGATED_ALERTS, *["ServiceDown"] * 5, *store_alerts(["postgres", "redis"], True), "Watchdog"])
    assert by_name["HighErrorRate"]["expr"].endswith("> 0.05") and by_name["HighErrorRate"]["for"] == "5m"
    assert by_name["HighLatency"]["expr"].endswith("> 1")
    assert "(14.4 * 0.001)" in by_name["ErrorBudgetFastBurn"]["expr"]
    assert "(1 * 0.001)" in by_name["ErrorBudgetSlowBurn"]["expr"]
    assert by_name["HighErrorRate"]["annotations"]["summary"] == SERVICE_TEMPLATE + ": more than 5% of requests fail"
    down = sorted(rule["labels"]["service"] for rule in rules if rule["alert"] == "ServiceDown")
    assert down == ["api-gateway", "auth-service", "business-service", "inventory-service", "invoice-service"]
    database = by_name["DatabaseConnectionFailed"]
    assert database["expr"] == 'pg_up{namespace="business-app",service="postgres-exporter"} == 0'
    assert (database["for"], database["labels"]["severity"], database["labels"]["service"]) == ("1m", "critical",
                                                                                                "postgres")
    assert by_name["HighErrorRate"]["annotations"]["runbook_url"] == (
        "generated/business-app/docs/runbooks/high-error-rate.md")


def pod_not_ready_regexes(rule: dict[str, Any]) -> tuple[str, str]:
    """The pods PodNotReady watches, and how it reads their service from their name (label_replace's regex)."""
    match = re.fullmatch(r'label_replace\(\w+\{[^}]*pod=~"([^"]+)"\} == 1, "service", "\$1", "pod", "([^"]+)"\)',
                         rule["expr"])
    assert match, rule["expr"]
    return match[1], match[2]


def test_pod_not_ready_watches_exactly_the_platforms_pods_and_names_their_service(tmp_path: Path) -> None:
    """Both slots of a blue-green service in production, one Deployment per service in staging; Prometheus
    anchors both regexes, as fullmatch does (RE2 and Python agree on this syntax)."""
    plan = bundled_plan()
    write_tree(plan, tmp_path)
    pods = {"production": {"api-gateway-blue-5d8f7c9b6-x2x4z": "api-gateway",
                           "invoice-service-green-7c9b6f5d8-abcde": "invoice-service"},
            "staging": {"api-gateway-5d8f7c9b6-x2x4z": "api-gateway", "auth-service-7c9b6f5d8-abcde": "auth-service"}}
    for env, services in pods.items():
        rule = next(rule for rule in alerts(rule_groups(tmp_path, env)) if rule["alert"] == "PodNotReady")
        watched, service_of = pod_not_ready_regexes(rule)
        for pod, service in services.items():
            assert re.fullmatch(watched, pod)
            assert re.fullmatch(service_of, pod)[1] == service  # type: ignore[index]
        for outsider in ("postgres-exporter-5d8f7c9b6-x2x4z", "business-app-backup-29000000-x2x4z", "api-gateway-x2x4z"):
            assert not re.fullmatch(watched, outsider)


def test_staging_alerts_say_so(tmp_path: Path) -> None:
    plan = bundled_plan()
    write_tree(plan, tmp_path)
    staging = alerts(rule_groups(tmp_path, "staging"))
    assert {rule["labels"]["environment"] for rule in staging} == {"staging"}
    assert all("production" not in rule["annotations"]["description"] for rule in staging)


def test_runbook_links_follow_the_spec(tmp_path: Path) -> None:
    platform = bundled_platform()
    base = "https://github.com/acme/business/blob/main/docs/runbooks"
    monitoring = platform.monitoring.model_copy(update={"runbooks": base + "/"})
    changed = platform.model_copy(update={"monitoring": monitoring})
    write_tree(plan_of(changed), tmp_path)
    urls = {rule["alert"]: rule["annotations"]["runbook_url"] for rule in alerts(rule_groups(tmp_path, "staging"))}
    assert urls["ErrorBudgetFastBurn"] == f"{base}/error-budget-fast-burn.md"
    assert urls["DatabaseConnectionFailed"] == f"{base}/database-connection-failed.md"


@pytest.mark.parametrize("runbooks", ["", "docs/{{ $labels.service }}", "my runbooks"])
def test_runbook_bases_that_would_break_the_annotation_templates_are_refused(runbooks: str) -> None:
    spec = yaml.safe_load((BUNDLED_SPEC).read_text())
    spec["monitoring"]["runbooks"] = runbooks
    with pytest.raises(ValueError, match="runbooks"):
        Platform.model_validate(spec)


def test_no_postgres_means_no_database_alerts(tmp_path: Path) -> None:
    spec = yaml.safe_load((BUNDLED_SPEC).read_text())
    del spec["datastores"]["postgres"]
    for service in spec["services"].values():
        service["uses"] = [store for store in service.get("uses", []) if store != "postgres"]
    write_tree(plan_of(Platform.model_validate(spec)), tmp_path)
    assert not [r for r in alerts(rule_groups(tmp_path, "production")) if "pg_up" in r["expr"]]


def test_the_silent_metrics_guard_watches_every_scraped_pod_but_the_exporters(tmp_path: Path) -> None:
    """RequestMetricsMissing: one rule over the namespace's scraped pods, the exporters (which expose no request
    metrics) and pods without a service left out; a service without its counter or its histogram pages."""
    write_tree(bundled_plan(), tmp_path)
    (rule,) = [r for r in alerts(rule_groups(tmp_path, "production")) if r["alert"] == "RequestMetricsMissing"]
    assert 'up{namespace="business-app",service!~"postgres-exporter|redis-exporter|"} == 1' in rule["expr"]
    assert "http_request_total{" in rule["expr"] and "http_request_duration_seconds_bucket{" in rule["expr"]
    assert (rule["for"], rule["labels"]["severity"]) == ("10m", "critical")


def test_the_watchdog_always_fires_and_says_so(tmp_path: Path) -> None:
    write_tree(bundled_plan(), tmp_path)
    for env in ("staging", "production"):
        (rule,) = [r for r in alerts(rule_groups(tmp_path, env)) if r["alert"] == "Watchdog"]
        assert rule["expr"] == "vector(1)" and "for" not in rule
        assert rule["labels"] == {"severity": "none", "environment": env}
        assert "always fires" in rule["annotations"]["description"]


def test_redis_alerts_watch_the_exporter_and_replication_only_where_highly_available(tmp_path: Path) -> None:
    write_tree(bundled_plan(), tmp_path)
    for env, replicated in (("staging", False), ("production", True)):
        redis = [r for r in alerts(rule_groups(tmp_path, env)) if r["alert"].startswith("Redis")]
        assert sorted(r["alert"] for r in redis) == sorted(store_alerts(["redis"], replicated))
        assert all('service="redis-exporter"' in r["expr"] and r["labels"]["service"] == "redis" for r in redis)
    (replicas,) = [r for r in alerts(rule_groups(tmp_path, "production")) if r["alert"] == "RedisReplicasMissing"]
    assert replicas["expr"].endswith(" < 1")  # production's one ElastiCache replica (num_cache_clusters 2)


def test_bundled_prometheus_config_passes_promtool_with_discovery_stubbed(tmp_path: Path) -> None:
    """Debian's promtool has no Kubernetes service discovery, so the kubernetes_sd_configs blocks are swapped
    for static targets in a copy; everything else (relabelling, alerting, rule files) is checked as written."""
    plan = bundled_plan()
    files = write_tree(plan, tmp_path)
    for env in plan.on("kubernetes"):
        stub = stubbed_config(files[f"monitoring/{env.name}/prometheus.yml"], discovered_pods(env))
        result = promtool("check", "config", stub)
        assert_ok(result)
        assert "rules found" in result.stdout  # it read rules.yml through rule_files


def scraped(env: EnvironmentPlan, config: Path) -> list[dict[str, str]]:
    """The targets promtool's own relabelling keeps from the pods discovery reports."""
    first = env.services[0]
    pending = pod_target(env.namespace, "10.3.0.1", first.port, "pending-5d8f7c9b6-x2x4z", dict(first.labels),
                         dict(first.scrape_annotations), "Pending")
    stub = stubbed_config(config, [*discovered_pods(env), pending])
    # promtool waits out its whole --timeout for more discovery updates; static targets come at once
    result = promtool("check", "service-discovery", "--timeout=250ms", stub, "kubernetes-pods")
    assert_ok(result)
    return [target["labels"] for target in json.loads(result.stdout) if target["labels"]]


def assert_scrapes_every_service_as_planned(env: EnvironmentPlan, targets: list[dict[str, str]]) -> None:
    expected = []
    for index, service in enumerate(env.services):
        if service.port is None:
            continue
        for number, deployment in enumerate(service.deployments):
            expected.append((f"10.1.{index}.{number + 1}:{service.port}", service.metrics_path, service.name,
                             f"{deployment}-5d8f7c9b6-x2x4z", env.namespace))
    got = [(t["__address__"], t["__metrics_path__"], t[m.SERVICE], t[m.POD], t[m.NAMESPACE]) for t in targets]
    assert sorted(got) == sorted(expected)  # the unannotated and the pending pod are dropped


def test_bundled_scrape_config_keeps_exactly_the_annotated_pods(tmp_path: Path) -> None:
    plan = bundled_plan()
    files = write_tree(plan, tmp_path)
    production = next(env for env in plan.environments if env.name == "production")
    targets = scraped(production, files["monitoring/production/prometheus.yml"])
    assert_scrapes_every_service_as_planned(production, targets)
    gateway = {t[m.POD]: t for t in targets if t[m.SERVICE] == "api-gateway"}
    assert gateway["api-gateway-blue-5d8f7c9b6-x2x4z"]["__address__"].endswith(":3000")
    assert {t[m.SLOT] for t in gateway.values()} == {"blue", "green"}


def test_bundled_kubernetes_documents_fit_the_crds_and_kubernetes(tmp_path: Path) -> None:
    plan = bundled_plan()
    configmaps = []
    for env in plan.on("kubernetes"):
        documents = kubernetes_documents(env)
        kinds = [d["kind"] for d in documents]
        assert kinds == ["PrometheusRule", *["PodMonitor"] * len(env.services), "ConfigMap"]
        for document in documents:
            assert document["metadata"]["namespace"] == env.namespace
            assert env.labels.items() <= document["metadata"]["labels"].items()
            if document["kind"] != "ConfigMap":
                assert crd_errors(document) == []
        configmaps.append(documents[-1])
    path = tmp_path / "configmaps.yaml"
    path.write_text(yaml.safe_dump_all(configmaps))
    assert_ok(run(require_tool("kubernetes-validate"), "--strict", "--quiet", path))


def test_crd_check_rejects_what_the_api_server_would() -> None:
    """The closed schemas catch a misspelt field and a bad duration: the check can fail."""
    plan = bundled_plan()
    rule, monitor = kubernetes_documents(plan.on("kubernetes")[0])[:2]
    rule["spec"]["groups"][1]["rules"][0]["for"] = "five minutes"
    monitor["spec"]["podMetricsEndpoints"][0]["portnumber"] = 3000
    assert crd_errors(rule) and crd_errors(monitor)


def test_operator_objects_carry_the_same_rules_and_dashboard_as_the_plain_files(tmp_path: Path) -> None:
    plan = bundled_plan()
    write_tree(plan, tmp_path)
    dashboard = json.loads((tmp_path / "monitoring" / "dashboard.json").read_text())
    dashboard.pop("//")
    for env in plan.on("kubernetes"):
        rule, *monitors, configmap = kubernetes_documents(env)
        assert rule["spec"]["groups"] == rule_groups(tmp_path, env.name)
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert [json.loads(text) for text in configmap["data"].values()] == [dashboard]
        by_service = {monitor["metadata"]["name"]: monitor["spec"] for monitor in monitors}
        assert set(by_service) == {service.name for service in env.services if service.port}
        for service in (service for service in env.services if service.port):
            endpoint = by_service[service.name]["podMetricsEndpoints"][0]
            assert by_service[service.name]["selector"]["matchLabels"] == dict(service.selector)
            assert (endpoint["portNumber"], endpoint["path"]) == (service.port, service.metrics_path)


def dashboard_expressions(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL of the dashboard, with Grafana's variables given values as Grafana would."""
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    exprs += [re.fullmatch(r"label_values\((.*), \w+\)", v["query"]["query"])[1]  # type: ignore[index]
              for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return [e.replace("$__rate_interval", "5m").replace("$service", ".+") for e in exprs]


def check_dashboard(dashboard: dict[str, Any], folder: Path) -> None:
    """Importable: title, uid, unique ids, panels inside the 24-column grid, never overlapping, every query
    valid PromQL (promtool reads them as recording rules) and on the picked Prometheus."""
    assert dashboard["title"] and 0 < len(dashboard["uid"]) <= 40 and isinstance(dashboard["schemaVersion"], int)
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        area = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not cells & area, f"panel {panel['title']} overlaps another"
        cells |= area
        assert panel["datasource"]["uid"] == "${datasource}"
    assert {v["name"] for v in dashboard["templating"]["list"]} >= {"datasource", "service"}
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:query:{i}", "expr": expr}
                                                         for i, expr in enumerate(dashboard_expressions(dashboard))]}]}
    path = folder / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    assert_ok(promtool("check", "rules", path))


def test_bundled_dashboard_shows_traffic_errors_latency_and_budget(tmp_path: Path) -> None:
    plan = bundled_plan()
    write_tree(plan, tmp_path)
    dashboard = json.loads((tmp_path / "monitoring" / "dashboard.json").read_text())
    check_dashboard(dashboard, tmp_path)
    exprs = " ".join(dashboard_expressions(dashboard))
    for needle in ("http_request_total", 'status=~"5.."', "histogram_quantile(0.95", m.ERROR_BUDGET_REMAINING):
        assert needle in exprs
    thresholds = {panel["title"]: panel["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["value"]
                  for panel in dashboard["panels"]}
    assert thresholds["Error rate (5xx)"] == 0.05 and thresholds["Latency p95"] == 1.0


def test_metric_and_label_names_are_documented() -> None:
    docs = (ROOT / "docs" / "monitoring.md").read_text()
    names = [m.REQUESTS, m.REQUEST_DURATION_BUCKET, m.STATUS, m.SERVICE, m.NAMESPACE, m.POD, m.SLOT, m.UP,
             m.POD_READY, m.CRONJOB_LAST_SUCCESS, m.CRONJOB_CREATED, m.POSTGRES_UP, m.SCRAPE_ANNOTATION, m.PORT_ANNOTATION,
             m.PATH_ANNOTATION,
             m.ERROR_BUDGET_REMAINING, SERVICE_NAME_LABEL, *(m.error_ratio(w) for w in m.ERROR_RATIO_WINDOWS)]
    assert [name for name in names if f"`{name}`" not in docs] == []


@pytest.mark.parametrize(("drift", "before", "after"), [
    ("a threshold", "> 0.05", "> 0.06"),
    ("the service read from a blue-green pod's name", '"(.+)(?:-blue|-green)-', '"(.+)-'),
    ("an alert losing its service label", "sum by (namespace, service, le)", "sum by (namespace, le)"),
    ("an alert reading one service only", 'slo:sli_error:ratio_rate1h{namespace="business-app"}',
     'slo:sli_error:ratio_rate1h{namespace="business-app",service="auth-service"}'),
    ("an unlabelled pod alerted on", ',service!=""', ""),
])
def test_promtool_unit_tests_can_fail(tmp_path: Path, drift: str, before: str, after: str) -> None:
    """A rule that drifts from what its unit tests expect, in the alert's value or its labels, fails them."""
    plan = bundled_plan()
    files = write_tree(plan, tmp_path)
    rules = files["monitoring/production/rules.yml"]
    assert before in rules.read_text()
    rules.write_text(rules.read_text().replace(before, after))
    assert promtool("test", "rules", files["monitoring/production/rules.test.yml"]).returncode != 0, drift


# -- random platforms -------------------------------------------------------------------------------------------


def burn_thresholds(expr: str) -> dict[float, tuple[set[str], set[float]]]:
    """factor -> (windows, budgets) of each `A > (factor * budget) and B > (factor * budget)` pair."""
    pairs: dict[float, tuple[set[str], set[float]]] = {}
    for pair in expr.split(" or "):
        for window, factor, budget in re.findall(r"slo:sli_error:ratio_rate(\w+)\{[^}]*\} > \(([\d.]+) \* ([\d.]+)\)",
                                                 pair):
            windows, budgets = pairs.setdefault(float(factor), (set(), set()))
            windows.add(window)
            budgets.add(float(budget))
    return pairs


@given(platforms())
def test_every_alert_is_labelled_annotated_and_burns_at_factor_times_budget(platform: Platform) -> None:
    plan = plan_of(platform)
    budget = 1 - platform.monitoring.availability / 100
    for env in plan.on("kubernetes"):
        groups = kubernetes_documents(env)[0]["spec"]["groups"]
        recorded = {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}
        rules = alerts(groups)
        for rule in rules:
            assert rule["labels"]["severity"] in ({"none"} if rule["alert"] == "Watchdog" else {"critical", "warning"})
            assert rule["labels"]["environment"] == env.name
            assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}
            assert all(rule["annotations"].values())
            assert rule["annotations"]["runbook_url"].startswith(plan.slo.runbooks + "/")
            assert set(re.findall(r"slo:sli_error:ratio_rate\w+", rule["expr"])) <= recorded
            if rule["alert"] in AGGREGATED_ALERTS:  # `service` comes from the series, in every one it returns
                assert m.SERVICE not in rule["labels"] and SERVICE_TEMPLATE in rule["annotations"]["summary"]
                assert "service=" not in rule["expr"].replace('service!=""', "")  # no rule picks one service
            if rule["alert"] in BURN_WINDOWS:
                pairs = burn_thresholds(rule["expr"])
                assert {f: w for f, (w, _) in pairs.items()} == BURN_WINDOWS[rule["alert"]]
                assert all(b == pytest.approx(budget, rel=1e-9) for _, budgets in pairs.values() for b in budgets)
            elif rule["alert"] == "HighErrorRate":
                assert float(rule["expr"].rsplit("> ", 1)[1]) == pytest.approx(platform.monitoring.error_rate / 100)
            elif rule["alert"] == "HighLatency":
                assert float(rule["expr"].rsplit("> ", 1)[1]) == float(seconds(platform.monitoring.latency_p95))
        names = sorted(rule["alert"] for rule in rules)
        postgres = [s.name for s in env.datastores if s.engine == "postgres"]
        engines = [platform.datastores[name].engine for name in sorted(platform.datastores)]
        highly_available = platform.environments[env.name].highly_available
        listening = [service.name for service in env.services if service.port is not None]  # what is scraped
        jobs = [service for service in env.services if service.cron]  # every drawn schedule runs: each is watched
        cron = (["CronJobFailed"] if jobs else []) + ["CronJobSuccessOverdue"] * len(jobs)
        assert names == sorted([*AGGREGATED_ALERTS, *["ServiceDown"] * len(listening),
                                *store_alerts(engines, highly_available), "Watchdog", *cron])
        down = [rule["labels"][m.SERVICE] for rule in rules if rule["alert"] == "ServiceDown"]
        assert down == listening
        stores = {rule["labels"][m.SERVICE] for rule in rules if rule["alert"].startswith("Database")}
        assert sorted(stores) == postgres


@given(platforms())
def test_pod_not_ready_names_the_service_of_every_planned_pod_and_no_other(platform: Platform) -> None:
    """Every pod the plan's Deployments make (`<deployment>-<hash>-<suffix>`) is watched and mapped to its own
    service, whatever the names (one a prefix of another, blue-green or not); a Deployment named like the
    platform and a Job's pod are not."""
    for env in plan_of(platform).on("kubernetes"):
        rule = next(rule for rule in alerts(kubernetes_documents(env)[0]["spec"]["groups"])
                    if rule["alert"] == "PodNotReady")
        watched, service_of = pod_not_ready_regexes(rule)
        deployments = {deployment for service in env.services for deployment in service.deployments}
        for service in env.services:
            for deployment in service.deployments:
                pod = f"{deployment}-5d8f7c9b6-x2x4z"
                assert re.fullmatch(watched, pod) and re.fullmatch(service_of, pod)[1] == service.name  # type: ignore[index]
        first = next(service.deployments[0] for service in env.services if service.deployments)
        for outsider in (f"{env.platform}-5d8f7c9b6-x2x4z", f"{first}-x2x4z"):
            if outsider.rsplit("-", 2)[0] not in deployments:  # else its name makes it a pod of that Deployment
                assert not re.fullmatch(watched, outsider)


@given(platforms())
def test_rule_files_and_their_tests_grow_by_one_service_down_per_service_only(platform: Platform) -> None:
    """The same rules and tests as for the platform's first two services alone, but for one ServiceDown rule
    per service, one answering `up` series per service in its test, and a word per service in the list of
    pods PodNotReady watches; the dashboard does not change."""
    for planned in plan_of(platform).on("kubernetes"):
        # web services: what grows per service here (workers and cron jobs add their own names to other rules)
        env = dataclasses.replace(planned, services=tuple(s for s in planned.services if s.takes_requests))
        few = dataclasses.replace(env, services=env.services[:2])
        added = len(env.services) - len(few.services)
        tests, few_tests = rule_tests(env)["tests"], rule_tests(few)["tests"]
        assert [t for t in tests if "ServiceDown" not in t["name"]] == \
            [t for t in few_tests if "ServiceDown" not in t["name"]]
        (down,), (few_down,) = ([t for t in group if "ServiceDown" in t["name"]] for group in (tests, few_tests))
        assert len(down["input_series"]) == len(few_down["input_series"]) + added
        rules, few_rules = ([{**rule, "expr": re.sub(r'pod=~"[^"]*"', "pod=~...", rule["expr"])}
                             for rule in alerts(kubernetes_documents(e)[0]["spec"]["groups"])] for e in (env, few))
        assert [r for r in rules if r["alert"] != "ServiceDown"] == [r for r in few_rules if r["alert"] != "ServiceDown"]
        assert len(rules) == len(few_rules) + added
        assert kubernetes_documents(env)[-1] == kubernetes_documents(few)[-1], "the dashboard ConfigMap"


@given(platforms())
def test_operator_objects_fit_the_crds_for_any_platform(platform: Platform) -> None:
    for env in plan_of(platform).on("kubernetes"):
        documents = kubernetes_documents(env)
        assert [e for d in documents if d["kind"] != "ConfigMap" for e in crd_errors(d)] == []
        names = [(d["kind"], d["metadata"]["name"]) for d in documents]
        assert len(set(names)) == len(names)


@settings(max_examples=12)
@given(platforms())
def test_every_expression_parses_and_every_pod_is_scraped_as_planned(platform: Platform) -> None:
    """One promtool call per check over the whole tree: rules, dashboard queries, config, discovery."""
    plan = plan_of(platform)
    with tempfile.TemporaryDirectory() as folder:
        files = write_tree(plan, Path(folder))
        assert_ok(promtool("check", "rules", *(p for name, p in files.items() if name.endswith("/rules.yml"))))
        check_dashboard(json.loads(files["monitoring/dashboard.json"].read_text()), Path(folder))
        for env in plan.on("kubernetes"):
            config = files[f"monitoring/{env.name}/prometheus.yml"]
            assert_ok(promtool("check", "config", stubbed_config(config, discovered_pods(env))))
            assert_scrapes_every_service_as_planned(env, scraped(env, config))


@settings(max_examples=3)
@given(platforms())
def test_generated_unit_tests_pass_for_any_platform(platform: Platform) -> None:
    """Slow (promtool evaluates hours of synthetic series), hence few examples; SLOs, names and rollouts vary."""
    with tempfile.TemporaryDirectory() as folder:
        files = write_tree(plan_of(platform), Path(folder))
        tests = [path for name, path in files.items() if name.endswith("rules.test.yml")]
        result = promtool("test", "rules", *tests)
        assert_ok(result)
        assert result.stdout.count("SUCCESS") == len(tests)


def test_output_is_byte_identical_across_hash_seeds() -> None:
    """No set or dict order leaks into the files: two interpreters with different hash seeds agree."""
    program = ("import hashlib, sys; from bizinfra.plan import resolve; from bizinfra.render import render; "
               "from bizinfra.spec.loader import load_platform; from bizinfra.targets.monitoring import "
               "compile_monitoring; plan = resolve(load_platform(__import__('pathlib').Path(sys.argv[1])), 's'); "
               "print(hashlib.sha256(b''.join(render(a, 's') for a in compile_monitoring(plan))).hexdigest())")
    digests = set()
    for seed in ("1", "2"):
        result = subprocess.run([sys.executable, "-c", program, str(BUNDLED_SPEC)],
                                capture_output=True, text=True, check=True,
                                env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT / "src")})
        digests.add(result.stdout)
    assert len(digests) == 1
