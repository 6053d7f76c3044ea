"""Prometheus rule groups of one environment: SLO recording rules, and alerts, each one rule over all
services (by service) but ServiceDown (one per service) and the data store alerts (one per store).
The same groups go into the plain rule file and the PrometheusRule."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from bizinfra.naming import RUNBOOKS
from bizinfra.plan import DatastorePlan, EnvironmentPlan, ServicePlan, SloPlan
from bizinfra.targets.monitoring import metrics as m

Rule = dict[str, Any]
Group = dict[str, Any]

ERROR_RATE_FOR = "5m"  # seed: HighErrorRate for 5m
LATENCY_FOR = "5m"  # seed: HighLatency for 5m
POD_NOT_READY_FOR = "5m"  # seed: PodNotReady for 5m
SERVICE_DOWN_FOR = "3m"  # an outage: long enough to ride out one pod restart, short enough to page early
DATABASE_DOWN_FOR = "1m"  # seed: DatabaseConnectionFailed for 1m
EXPORTER_MISSING_FOR = "10m"  # an exporter being (re)installed should not open a ticket


def rule_groups(env: EnvironmentPlan) -> list[Group]:
    groups = [slo_recording_group(env), burn_rate_group(env), service_alert_group(env)]
    postgres = [store for store in env.datastores if store.engine == "postgres"]
    if postgres:
        groups.append(datastore_alert_group(env, postgres))
    return groups


# -- numbers and selectors ------------------------------------------------------------------------------


def number(value: float | Decimal) -> str:
    """A threshold as PromQL reads it: 0.05, 1, 0.25; never 5e-02 or 0.05000000001."""
    return format(Decimal(str(value)).normalize(), "f")


def error_budget(slo: SloPlan) -> Decimal:
    """The share of requests the SLO allows to fail: 0.001 for 99.9%, exact (no float residue)."""
    return (Decimal(100) - Decimal(str(slo.availability))) / 100


def percent(fraction: float | Decimal) -> str:
    return f"{number(Decimal(str(fraction)) * 100)}%"


def duration_text(seconds: float) -> str:
    return f"{number(Decimal(str(seconds)) * 1000)}ms" if seconds < 1 else f"{number(seconds)}s"


def selector(metric: str, **matchers: str) -> str:
    """`metric{a="x",b=~"y",c!=""}`: a matcher value starting with `~` is a regex match, `!` a negative one."""
    operators = {"~": "=~", "!": "!="}
    parts = [f'{name}{operators[value[0]]}"{value[1:]}"' if value[:1] in operators else f'{name}="{value}"'
             for name, value in matchers.items()]
    return f"{metric}{{{','.join(parts)}}}"


POD_SUFFIX = "-[a-z0-9]+-[a-z0-9]+"  # a Deployment names its pods `<deployment>-<template hash>-<suffix>`
SERVICE_TEMPLATE = f"{{{{ $labels.{m.SERVICE} }}}}"  # the firing series' service, in an annotation


def slot_suffixes(env: EnvironmentPlan) -> tuple[str, ...]:
    """What the plan appends to a service's name to name its Deployments: ("",) or ("-blue", "-green").
    The rollout is per environment, so every service has the same ones; PodNotReady relies on it."""
    suffixes = {tuple(deployment.removeprefix(service.name) for deployment in service.deployments)
                for service in env.services}
    if len(suffixes) != 1:
        raise ValueError(f"{env.name}: services differ in how their Deployments are named: {sorted(suffixes)}")
    return suffixes.pop()


def slots_regex(env: EnvironmentPlan) -> str:
    suffixes = slot_suffixes(env)
    return "" if suffixes == ("",) else f"(?:{'|'.join(suffixes)})"


def platform_pods_regex(env: EnvironmentPlan) -> str:
    """The pods of the platform's Deployments and nothing else in the namespace (exporters, other teams' pods)."""
    return f"(?:{'|'.join(service.name for service in env.services)}){slots_regex(env)}{POD_SUFFIX}"


def service_of_pod_regex(env: EnvironmentPlan) -> str:
    """Captures the service in one of those pods' names: all before its slot, template hash and suffix
    (neither of the last two holds a '-', so the greedy capture cannot take too little or too much)."""
    return f"(.+){slots_regex(env)}{POD_SUFFIX}"


def runbook_file(alert: str) -> str:
    """An alert's runbook page, by name: HighErrorRate -> high-error-rate.md."""
    return f"{re.sub(r'(?<!^)(?=[A-Z])', '-', alert).lower()}.md"


def runbook_url(env: EnvironmentPlan, alert: str) -> str:
    """Where the alert links to: its page below the plan's base (by default the generated pages' folder)."""
    return f"{env.slo.runbooks}/{runbook_file(alert)}"


def runbook_page(alert: str) -> str:
    """The generated page, below the platform's folder: the file `runbook_url` names with the default base."""
    return f"{RUNBOOKS}/{runbook_file(alert)}"


def alert_rule(env: EnvironmentPlan, name: str, service: str | None, expr: str, duration: str | None, severity: str,
               summary: str, description: str) -> Rule:
    """`service` is the static label of a rule about one service or data store; None when the expression
    gives every series its `service` label (the rules over all services of the environment)."""
    rule: Rule = {"alert": name, "expr": expr}
    if duration:
        rule["for"] = duration
    rule["labels"] = {"severity": severity, **({m.SERVICE: service} if service else {}), "environment": env.name}
    rule["annotations"] = {"summary": summary, "description": description, "runbook_url": runbook_url(env, name)}
    return rule


# -- SLO recording rules -------------------------------------------------------------------------------------


def error_ratio_expr(env: EnvironmentPlan, window: str) -> str:
    """Failed over all requests per service; 0 rather than nothing while a service has no 5xx series yet."""
    by = f"sum by ({m.NAMESPACE}, {m.SERVICE})"
    errors = f"{by} (rate({selector(m.REQUESTS, **service_series(env), status='~' + m.ERROR_STATUS)}[{window}]))"
    total = f"{by} (rate({selector(m.REQUESTS, **service_series(env))}[{window}]))"
    return f"({errors} or {total} * 0) / {total}"


def service_series(env: EnvironmentPlan) -> dict[str, str]:
    """The matchers of every service's series: the platform's namespace, and a non-empty `service` label
    (which the scrape config takes from the pod), so an alert over all services always says which one fires."""
    return {m.NAMESPACE: env.namespace, m.SERVICE: "!"}


def slo_recording_group(env: EnvironmentPlan) -> Group:
    rules: list[Rule] = [{"record": m.error_ratio(window), "expr": error_ratio_expr(env, window)}
                         for window in m.ERROR_RATIO_WINDOWS]
    period_ratio = m.error_ratio(m.SLO_PERIOD)
    rules.append({"record": period_ratio,  # Sloth's period ratio: the 5m ratio averaged over the period
                  "expr": f"avg_over_time({selector(m.error_ratio('5m'), namespace=env.namespace)}[{m.SLO_PERIOD}])"})
    rules.append({"record": m.ERROR_BUDGET_REMAINING,
                  "expr": f"1 - {selector(period_ratio, namespace=env.namespace)} / {number(error_budget(env.slo))}"})
    return {"name": f"{env.platform}-slo-error-ratios", "rules": rules}


# -- alerts over all services ---------------------------------------------------------------------------------
# One rule each, aggregated `by (namespace, service)`: a failing small service is not averaged away behind a
# healthy busy one, each fires (and routes, and is silenced) per service, and the rule files and their unit
# tests stay the same size however many services the platform has.


def burn_rate_expr(env: EnvironmentPlan, alert: m.BurnRateAlert) -> str:
    budget = number(error_budget(env.slo))
    pairs = []
    for window in alert.windows:
        threshold = f"({number(window.factor)} * {budget})"
        long, short = (selector(m.error_ratio(w), namespace=env.namespace) for w in (window.long, window.short))
        pairs.append(f"({long} > {threshold} and {short} > {threshold})")
    return " or ".join(pairs)


def burn_rate_alert(env: EnvironmentPlan, alert: m.BurnRateAlert) -> Rule:
    windows = " or ".join(f"{number(w.factor)}x over {w.long} and {w.short}" for w in alert.windows)
    return alert_rule(
        env, alert.name, None, burn_rate_expr(env, alert), None, alert.severity,
        f"{SERVICE_TEMPLATE} is burning its error budget too fast",
        f"{SERVICE_TEMPLATE} in {env.name} fails requests at {windows} the rate its {number(env.slo.availability)}% "
        f"availability SLO allows ({alert.meaning}).",
    )


def burn_rate_group(env: EnvironmentPlan) -> Group:
    return {"name": f"{env.platform}-slo-burn-rate-alerts",
            "rules": [burn_rate_alert(env, alert) for alert in m.BURN_RATE_ALERTS]}


def high_error_rate(env: EnvironmentPlan) -> Rule:
    requests = selector(m.REQUESTS, **service_series(env))
    errors = selector(m.REQUESTS, **service_series(env), status="~" + m.ERROR_STATUS)
    by = f"sum by ({m.NAMESPACE}, {m.SERVICE})"
    expr = f"{by} (rate({errors}[5m])) / {by} (rate({requests}[5m])) > {number(env.slo.error_rate)}"
    return alert_rule(
        env, "HighErrorRate", None, expr, ERROR_RATE_FOR, m.CRITICAL,
        f"{SERVICE_TEMPLATE}: more than {percent(env.slo.error_rate)} of requests fail",
        f"{{{{ $value | humanizePercentage }}}} of {SERVICE_TEMPLATE}'s requests in {env.name} answered 5xx over "
        f"the last 5 minutes (threshold {percent(env.slo.error_rate)}).",
    )


def high_latency(env: EnvironmentPlan) -> Rule:
    buckets = selector(m.REQUEST_DURATION_BUCKET, **service_series(env))
    expr = (f"histogram_quantile(0.95, sum by ({m.NAMESPACE}, {m.SERVICE}, le) (rate({buckets}[5m])))"
            f" > {number(env.slo.latency_p95_seconds)}")
    threshold = duration_text(env.slo.latency_p95_seconds)
    return alert_rule(
        env, "HighLatency", None, expr, LATENCY_FOR, m.WARNING,
        f"{SERVICE_TEMPLATE}: p95 latency above {threshold}",
        f"The 95th percentile of {SERVICE_TEMPLATE}'s request latency in {env.name} is {{{{ $value | humanize }}}}s "
        f"over the last 5 minutes (threshold {threshold}).",
    )


def pod_not_ready(env: EnvironmentPlan) -> Rule:
    """kube-state-metrics describes pods, not services: the service is read from the pod's name. The
    selector keeps exactly the platform's Deployments' pods, so finished Job pods (never ready again)
    and exporters in the namespace are not reported."""
    pods = selector(m.POD_READY, namespace=env.namespace, condition="false", pod="~" + platform_pods_regex(env))
    expr = f'label_replace({pods} == 1, "{m.SERVICE}", "$1", "{m.POD}", "{service_of_pod_regex(env)}")'
    return alert_rule(
        env, "PodNotReady", None, expr, POD_NOT_READY_FOR, m.WARNING,
        f"{SERVICE_TEMPLATE}: a pod is not ready",
        f"Pod {{{{ $labels.pod }}}} of {SERVICE_TEMPLATE} in {env.name} has not been ready for {POD_NOT_READY_FOR}: "
        "it gets no traffic and the other pods carry its share.",
    )


def service_down(env: EnvironmentPlan, service: ServicePlan) -> Rule:
    """Per service: `absent()` can only tell that a service it names has no series, and its result carries
    no labels, hence the static `service` label and the literal name in the annotations."""
    targets = selector(m.UP, namespace=env.namespace, service=service.name)
    rule = alert_rule(
        env, "ServiceDown", service.name, f"absent({targets} == 1)", SERVICE_DOWN_FOR, m.CRITICAL,
        f"{service.name} is down",
        f"No pod of {service.name} in {env.name} has answered a metrics scrape for {SERVICE_DOWN_FOR}: "
        "it is down, or no longer exposes metrics.",
    )
    # Stated too, as the other service alerts carry it: Alertmanager inhibits the error and latency alerts a down
    # service causes by matching namespace and service (targets/monitoring/alerting.py).
    rule["labels"][m.NAMESPACE] = env.namespace
    return rule


def service_alert_group(env: EnvironmentPlan) -> Group:
    rules = [high_error_rate(env), high_latency(env), pod_not_ready(env),
             *(service_down(env, service) for service in env.services)]
    return {"name": f"{env.platform}-service-alerts", "rules": rules}


# -- data store alerts ----------------------------------------------------------------------------------------


def database_connection_failed(env: EnvironmentPlan, store: DatastorePlan) -> Rule:
    up = selector(m.POSTGRES_UP, namespace=env.namespace, service=m.postgres_exporter(store.name))
    users = ", ".join(store.users) or "no service"
    return alert_rule(
        env, "DatabaseConnectionFailed", store.name, f"{up} == 0", DATABASE_DOWN_FOR, m.CRITICAL,
        f"{store.name}: cannot connect to PostgreSQL",
        f"postgres_exporter cannot query {store.name} ({store.host}:{store.port}) in {env.name}; "
        f"{users} depend on it.",
    )


def database_metrics_missing(env: EnvironmentPlan, store: DatastorePlan) -> Rule:
    up = selector(m.POSTGRES_UP, namespace=env.namespace, service=m.postgres_exporter(store.name))
    return alert_rule(
        env, "DatabaseMetricsMissing", store.name, f"absent({up})", EXPORTER_MISSING_FOR, m.WARNING,
        f"{store.name}: no metrics from postgres_exporter",
        f"Prometheus has no {m.POSTGRES_UP} for {store.name} in {env.name}, so DatabaseConnectionFailed cannot fire: "
        f"run postgres_exporter with pod label app.kubernetes.io/name={m.postgres_exporter(store.name)}.",
    )


def datastore_alert_group(env: EnvironmentPlan, stores: list[DatastorePlan]) -> Group:
    rules = [build(env, store) for build in (database_connection_failed, database_metrics_missing) for store in stores]
    return {"name": f"{env.platform}-datastore-alerts", "rules": rules}
