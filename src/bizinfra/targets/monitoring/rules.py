"""Prometheus rule groups of one environment: SLO recording rules, and alerts, each one rule over all
services (by service) but ServiceDown (one per service) and the data store alerts (one per store, read from the
store's exporter), and the Watchdog, which always fires. The same groups go into the plain rule file and the
PrometheusRule."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, NamedTuple

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
# A service scraped without its request metrics: long enough for a new pod's first requests (the kubelet's probes
# are requests too) to create the series; then every alert on its requests is blind, so it pages.
REQUEST_METRICS_MISSING_FOR = "10m"
REDIS_DOWN_FOR = DATABASE_DOWN_FOR
REDIS_SATURATION_FOR = "10m"  # memory or connections near their limit, for longer than a burst
REDIS_EVICTIONS_FOR = "10m"  # keys evicted throughout: the data set no longer fits
REDIS_REPLICATION_FOR = "5m"  # longer than a replica's resynchronisation after a failover
# A cron job's success is overdue when this many runs in a row did not succeed: one missed run (a node drain at its
# minute) is CronJobFailed's or nobody's business, two are a ticket.
MISSED_RUNS = 2
NEAR_LIMIT = Decimal("0.9")  # the share of maxmemory or maxclients that is "near"
WATCHDOG = "Watchdog"


def rule_groups(env: EnvironmentPlan) -> list[Group]:
    groups = [slo_recording_group(env), burn_rate_group(env), service_alert_group(env)]
    if cron_jobs(env):
        groups.append(cron_job_alert_group(env))
    if env.datastores:
        groups.append(datastore_alert_group(env))
    return [*groups, watchdog_group(env)]


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
    """`metric{a="x",b=~"y",c!="",d!~"z"}`: a matcher value starting with `~` is a regex match, `!` a negative one,
    `!~` a negative regex match."""
    return f"{metric}{{{','.join(matcher(name, value) for name, value in matchers.items())}}}"


def matcher(name: str, value: str) -> str:
    for prefix, operator in (("!~", "!~"), ("~", "=~"), ("!", "!=")):
        if value.startswith(prefix):
            return f'{name}{operator}"{value.removeprefix(prefix)}"'
    return f'{name}="{value}"'


POD_SUFFIX = "-[a-z0-9]+-[a-z0-9]+"  # a Deployment names its pods `<deployment>-<template hash>-<suffix>`
SERVICE_TEMPLATE = f"{{{{ $labels.{m.SERVICE} }}}}"  # the firing series' service, in an annotation


def slot_suffixes(env: EnvironmentPlan) -> tuple[str, ...]:
    """What the plan appends to a web service's name to name its Deployments: ("",) or ("-blue", "-green").
    The rollout is per environment, so every web service has the same ones; PodNotReady relies on it. A worker
    has one Deployment of its own name (rolled in place)."""
    suffixes = {tuple(deployment.removeprefix(service.name) for deployment in service.deployments)
                for service in env.services if service.takes_requests} or {("",)}
    if len(suffixes) != 1:
        raise ValueError(f"{env.name}: services differ in how their Deployments are named: {sorted(suffixes)}")
    return suffixes.pop()


def slots_regex(env: EnvironmentPlan) -> str:
    suffixes = slot_suffixes(env)
    return "" if suffixes == ("",) else f"(?:{'|'.join(suffixes)})"


def platform_pods_regex(env: EnvironmentPlan) -> str:
    """The pods of the platform's Deployments and nothing else in the namespace (exporters, other teams' pods)."""
    web = "|".join(service.name for service in env.services if service.takes_requests)
    if not unslotted_workers(env):
        return f"(?:{'|'.join(s.name for s in env.services if s.deployments)}){slots_regex(env)}{POD_SUFFIX}"
    return f"(?:(?:{web}){slots_regex(env)}|{'|'.join(unslotted_workers(env))}){POD_SUFFIX}"


def unslotted_workers(env: EnvironmentPlan) -> tuple[str, ...]:
    """The workers beside blue-green services: their pods carry no slot in their names."""
    if not slots_regex(env):
        return ()
    return tuple(service.name for service in env.services if service.kind == "worker")


def service_of_pod_regex(env: EnvironmentPlan) -> str:
    """Captures the service in one of those pods' names: all before its slot, template hash and suffix
    (neither of the last two holds a '-', so the greedy capture cannot take too little or too much)."""
    if unslotted_workers(env):  # the slot is optional: the shortest capture that leaves a whole pod suffix
        return f"(.+?){slots_regex(env)}?{POD_SUFFIX}"
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


def request_metrics_missing(env: EnvironmentPlan) -> Rule:
    """The guard against silent metrics: a service whose pods answer scrapes but expose no request counter or
    latency histogram (a renamed metric, a missing middleware) has every request alert silently blind, so it pages.
    The data store exporters and the workers, scraped in the same namespace, serve no requests and are left out by
    name."""
    by = f"count by ({m.NAMESPACE}, {m.SERVICE})"
    # Neither an exporter nor empty: the regex's last alternative is the empty name.
    quiet = [*(e.name for e in env.exporters), *(s.name for s in env.services if s.scraped and not s.takes_requests)]
    services = {m.NAMESPACE: env.namespace, m.SERVICE: "!~" + "|".join([*quiet, ""])}
    scraped = f"{by} ({selector(m.UP, **services)} == 1)"
    present = f" and on ({m.NAMESPACE}, {m.SERVICE}) ".join(
        f"{by} ({selector(metric, **service_series(env))})" for metric in (m.REQUESTS, m.REQUEST_DURATION_BUCKET))
    return alert_rule(
        env, "RequestMetricsMissing", None, f"{scraped} unless on ({m.NAMESPACE}, {m.SERVICE}) ({present})",
        REQUEST_METRICS_MISSING_FOR, m.CRITICAL,
        f"{SERVICE_TEMPLATE} is scraped but exposes no request metrics",
        f"Prometheus scrapes {SERVICE_TEMPLATE}'s pods in {env.name}, but finds no {m.REQUESTS} or no "
        f"{m.REQUEST_DURATION_BUCKET} among their series: its error-rate, latency and error-budget alerts cannot "
        "fire. A metric renamed, or the request metrics middleware missing (docs/monitoring.md names what every "
        "service exposes).",
    )


def service_alert_group(env: EnvironmentPlan) -> Group:
    rules = [high_error_rate(env), high_latency(env), pod_not_ready(env), request_metrics_missing(env),
             *(service_down(env, service) for service in env.services if service.scraped)]
    return {"name": f"{env.platform}-service-alerts", "rules": rules}


# -- cron job alerts ------------------------------------------------------------------------------------------


def cron_jobs(env: EnvironmentPlan) -> tuple[ServicePlan, ...]:
    return tuple(service for service in env.services if service.cron)


def cron_job_failed(env: EnvironmentPlan) -> Rule:
    """A CronJob names each run's Job `<cron job>-<scheduled minute>`; kube-state-metrics counts its failed pods
    once the Job has given up (its retries spent, or its timeout passed). It keeps firing while the failed run is
    kept (`job.keep_failed`): deleting that Job once handled resolves it."""
    names = "|".join(service.name for service in cron_jobs(env))
    failed = selector(m.JOB_FAILED, namespace=env.namespace, job_name=f"~(?:{names})-[0-9]+")
    expr = f'label_replace({failed} > 0, "{m.SERVICE}", "$1", "job_name", "(.+)-[0-9]+")'
    return alert_rule(
        env, "CronJobFailed", None, expr, None, m.WARNING,
        f"{SERVICE_TEMPLATE}: a scheduled run failed",
        f"Run {{{{ $labels.job_name }}}} of the cron job {SERVICE_TEMPLATE} in {env.name} failed: its work for that "
        "schedule was not done. Read its pod's logs, fix, then delete the Job (or run it again).",
    )


def overdue_after_seconds(service: ServicePlan) -> int | None:
    """How old a cron job's last success may grow: MISSED_RUNS of its schedule's longest gap between runs, plus the
    latest a run on time can still succeed (its start_within and timeout). None for a schedule that never runs."""
    cron = service.cron
    if cron is None or cron.longest_gap_seconds is None:
        return None
    return MISSED_RUNS * cron.longest_gap_seconds + cron.start_within_seconds + cron.timeout_seconds


def cron_job_success_overdue(env: EnvironmentPlan, service: ServicePlan) -> Rule:
    """Per cron job, as each has its own schedule. It sees the runs CronJobFailed cannot: skipped (the cluster busy
    past start_within), never started (the CronJob suspended or deleted), or failed and already cleaned up. A job
    that never succeeded counts from its creation."""
    overdue = overdue_after_seconds(service)
    assert service.cron is not None and overdue is not None
    cronjob = {m.NAMESPACE: env.namespace, "cronjob": service.name}
    last = f"({selector(m.CRONJOB_LAST_SUCCESS, **cronjob)} or {selector(m.CRONJOB_CREATED, **cronjob)})"
    return alert_rule(
        env, "CronJobSuccessOverdue", service.name, f"time() - {last} > {overdue}", None, m.WARNING,
        f"{service.name}: no successful run for {hours_text(overdue)}",
        f"The cron job {service.name} in {env.name} ('{service.cron.schedule}' UTC) has not "
        f"succeeded for more than {hours_text(overdue)}: {MISSED_RUNS} runs in a row were missed or failed, so its "
        "work is that far behind.",
    )


def hours_text(seconds: int) -> str:
    """4500 -> 1h15m; 86400 -> 24h; 1800 -> 30m."""
    hours, rest = divmod(seconds // 60, 60)
    return f"{hours}h{rest}m" if hours and rest else f"{hours}h" if hours else f"{rest}m"


def cron_job_alert_group(env: EnvironmentPlan) -> Group:
    overdue = [cron_job_success_overdue(env, service) for service in cron_jobs(env)
               if overdue_after_seconds(service) is not None]
    return {"name": f"{env.platform}-cron-job-alerts", "rules": [cron_job_failed(env), *overdue]}


# -- data store alerts ----------------------------------------------------------------------------------------


class StoreAlert(NamedTuple):
    """A data store's alert, read from its exporter's series. `expr` and `description` are templates over
    `store_facts`: each exporter metric by its own name stands for its selector over the store's series
    ({redis_up} is `redis_up{namespace="...",service="<store>-exporter"}`), beside the store's facts ({store},
    {env}...). The summary follows "<store>: "."""

    name: str
    expr: str
    duration: str | None
    severity: str
    summary: str
    description: str


POSTGRES_ALERTS = (
    StoreAlert("DatabaseConnectionFailed", "{pg_up} == 0", DATABASE_DOWN_FOR, m.CRITICAL,
               "cannot connect to PostgreSQL",
               "postgres_exporter cannot query {store} ({host}:{port}) in {env}; {users} depend on it."),
    StoreAlert("DatabaseMetricsMissing", "absent({pg_up})", EXPORTER_MISSING_FOR, m.WARNING,
               "no metrics from postgres_exporter",
               "Prometheus has no pg_up for {store} in {env}, so DatabaseConnectionFailed cannot fire: the Deployment "
               "{exporter} is not running, or its PodMonitor is not scraped."),
)
REDIS_ALERTS = (
    StoreAlert("RedisConnectionFailed", "{redis_up} == 0", REDIS_DOWN_FOR, m.CRITICAL, "cannot connect to Redis",
               "redis_exporter cannot reach {store} ({host}:{port}) in {env}; {users} depend on it."),
    StoreAlert("RedisMetricsMissing", "absent({redis_up})", EXPORTER_MISSING_FOR, m.WARNING,
               "no metrics from redis_exporter",
               "Prometheus has no redis_up for {store} in {env}, so no Redis alert can fire: the Deployment "
               "{exporter} is not running, or its PodMonitor is not scraped."),
    # `maxmemory` 0 means no limit: that series is left out, not divided by.
    StoreAlert("RedisMemoryNearLimit", "{redis_memory_used_bytes} / ({redis_memory_max_bytes} > 0) > {near}",
               REDIS_SATURATION_FOR, m.WARNING, "memory near maxmemory",
               "{store} in {env} uses {{{{ $value | humanizePercentage }}}} of its maxmemory (threshold "
               "{near_percent}): next it evicts keys or refuses writes. A larger node size, or shorter TTLs."),
    StoreAlert("RedisEvictions", "rate({redis_evicted_keys_total}[5m]) > 0", REDIS_EVICTIONS_FOR, m.WARNING,
               "keys evicted",
               "{store} in {env} has evicted {{{{ $value | humanize }}}} keys per second for "
               f"{REDIS_EVICTIONS_FOR} to stay under maxmemory: whatever the services keep there (sessions, cached "
               "answers) is being lost."),
    # maxclients from INFO (Redis 7 on), else from CONFIG where the server allows it.
    StoreAlert("RedisConnectionsNearLimit",
               "{redis_connected_clients} / ({redis_max_clients} or {redis_config_maxclients}) > {near}",
               REDIS_SATURATION_FOR, m.WARNING, "connections near maxclients",
               "{store} in {env} holds {{{{ $value | humanizePercentage }}}} of its maxclients connections "
               "(threshold {near_percent}): a client leaking connections, or too many pods with large pools."),
    StoreAlert("RedisRejectedConnections", "increase({redis_rejected_connections_total}[5m]) > 0", None, m.CRITICAL,
               "connections refused at maxclients",
               "{store} in {env} refused {{{{ $value | humanize }}}} connections over the last 5 minutes: it is at "
               "maxclients, and the services that connected then failed."),
)
REPLICATION_ALERTS = (  # where the store keeps replicas
    StoreAlert("RedisReplicasMissing", "{redis_connected_slaves} < {replicas}", REDIS_REPLICATION_FOR, m.WARNING,
               "fewer replicas than the environment keeps",
               "The primary of {store} in {env} feeds {{{{ $value | humanize }}}} replicas, not {replicas}: a "
               "failover would have no up-to-date copy to promote."),
    StoreAlert("RedisMasterLinkDown", "{redis_master_link_up} == 0", REDIS_REPLICATION_FOR, m.WARNING,
               "a replica lost its primary",
               f"A replica of {{store}} in {{env}} has had no link to its primary for {REDIS_REPLICATION_FOR}: it "
               "serves stale data and cannot take over."),
)
EXPORTER_METRICS = (m.POSTGRES_UP, m.REDIS_UP, m.REDIS_MEMORY_USED, m.REDIS_MEMORY_MAX, m.REDIS_EVICTED_KEYS,
                    m.REDIS_CLIENTS, m.REDIS_MAX_CLIENTS, m.REDIS_CONFIG_MAX_CLIENTS, m.REDIS_REJECTED_CONNECTIONS,
                    m.REDIS_REPLICAS, m.REDIS_MASTER_LINK_UP)


def exporter_series(env: EnvironmentPlan, store: DatastorePlan) -> dict[str, str]:
    """The matchers of a store's series: its exporter's pods, in the platform's namespace."""
    return {m.NAMESPACE: env.namespace, m.SERVICE: m.exporter(store.name)}


def store_facts(env: EnvironmentPlan, store: DatastorePlan) -> dict[str, object]:
    """What a StoreAlert's templates may name."""
    series = {metric: selector(metric, **exporter_series(env, store)) for metric in EXPORTER_METRICS}
    return {**series, "store": store.name, "env": env.name, "host": store.host, "port": store.port,
            "users": ", ".join(store.users) or "no service", "exporter": m.exporter(store.name),
            "replicas": store.replicas, "near": number(NEAR_LIMIT), "near_percent": percent(NEAR_LIMIT)}


def store_alerts(store: DatastorePlan) -> tuple[StoreAlert, ...]:
    if store.engine == "postgres":
        return POSTGRES_ALERTS
    return REDIS_ALERTS + (REPLICATION_ALERTS if store.replicas else ())


def store_alert(env: EnvironmentPlan, store: DatastorePlan, name: str) -> Rule:
    """The store's alert of that name, as a rule."""
    alert = next(alert for alert in store_alerts(store) if alert.name == name)
    facts = store_facts(env, store)
    return alert_rule(env, alert.name, store.name, alert.expr.format(**facts), alert.duration, alert.severity,
                      f"{store.name}: {alert.summary}", alert.description.format(**facts))


def datastore_alert_group(env: EnvironmentPlan) -> Group:
    rules = [store_alert(env, store, alert.name) for store in env.datastores for alert in store_alerts(store)]
    return {"name": f"{env.platform}-datastore-alerts", "rules": rules}


# -- the watchdog ---------------------------------------------------------------------------------------------


def watchdog(env: EnvironmentPlan) -> Rule:
    """Always firing: Alertmanager routes it to a dead man's switch, which raises the alarm when it stops arriving
    (Prometheus down, its rules not loaded, or Alertmanager unreachable)."""
    return alert_rule(
        env, WATCHDOG, None, "vector(1)", None, m.NONE,
        f"The alerting pipeline of {env.name} works",
        f"This alert always fires, by design, and must never be silenced: it proves that Prometheus evaluates the "
        f"rules of {env.name} and that Alertmanager delivers them. The dead man's switch it is routed to alerts "
        "when it stops arriving.",
    )


def watchdog_group(env: EnvironmentPlan) -> Group:
    return {"name": f"{env.platform}-watchdog", "rules": [watchdog(env)]}
