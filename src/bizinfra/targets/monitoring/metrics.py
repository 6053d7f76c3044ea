"""The metric and label names the rules, dashboards and scrape configs rely on: one place, documented in
docs/monitoring.md. A service that exposes these is monitored; one that does not makes `ServiceDown`
and the empty dashboard say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bizinfra import naming
from bizinfra.naming import exporter_name

# What every service exposes on its metrics path (prom-client names, as in the seed guide).
REQUESTS = "http_request_total"  # counter of handled requests, labelled with STATUS
REQUEST_DURATION_BUCKET = "http_request_duration_seconds_bucket"  # histogram buckets, in seconds, labelled `le`
STATUS = "status"  # the numeric HTTP status code, e.g. "200", "503"
ERROR_STATUS = "5.."  # a request failed when the service answered 5xx: 4xx are the caller's fault

# Labels Prometheus attaches at scrape time, from the pod: services need not export them.
SERVICE = "service"  # the service's name, from its pods' SERVICE_NAME_LABEL
NAMESPACE = "namespace"
POD = "pod"
SLOT = "slot"  # blue or green, on blue-green pods

# From the exporters the rules rely on (see docs/monitoring.md for how to run them).
UP = "up"  # Prometheus' own: 1 when the last scrape of a target worked
POD_READY = "kube_pod_status_ready"  # kube-state-metrics: labels namespace, pod, condition
JOB_FAILED = "kube_job_status_failed"  # kube-state-metrics: a Job's failed pods; labels namespace, job_name, reason
# kube-state-metrics 2.20 (the chart's pin), both labelled namespace, cronjob: the Unix time of a CronJob's last
# successful run (no series before its first), and of its creation.
CRONJOB_LAST_SUCCESS = "kube_cronjob_status_last_successful_time"
CRONJOB_CREATED = "kube_cronjob_created"
POSTGRES_UP = "pg_up"  # prometheus-community/postgres_exporter: 1 when it can query the database
# oliver006/redis_exporter (exporter/exporter.go): INFO fields as gauges and counters, labelled like any scrape.
REDIS_UP = "redis_up"  # 1 when the exporter reached Redis at its last scrape
REDIS_MEMORY_USED = "redis_memory_used_bytes"  # INFO used_memory
REDIS_MEMORY_MAX = "redis_memory_max_bytes"  # INFO maxmemory; 0 means no limit
REDIS_EVICTED_KEYS = "redis_evicted_keys_total"  # INFO evicted_keys: keys dropped to stay under maxmemory
REDIS_CLIENTS = "redis_connected_clients"  # INFO connected_clients
# INFO maxclients (Redis 7 on); CONFIG's on a Redis that allows CONFIG (ElastiCache does not).
REDIS_MAX_CLIENTS, REDIS_CONFIG_MAX_CLIENTS = "redis_max_clients", "redis_config_maxclients"
REDIS_REJECTED_CONNECTIONS = "redis_rejected_connections_total"  # INFO rejected_connections: refused at maxclients
REDIS_REPLICAS = "redis_connected_slaves"  # INFO connected_slaves, on the primary
REDIS_MASTER_LINK_UP = "redis_master_link_up"  # INFO master_link_status, on a replica

# The pod annotations the `kubernetes-pods` scrape job reads; the plan puts them on every service's pods.
SCRAPE_ANNOTATION = "prometheus.io/scrape"
PORT_ANNOTATION = "prometheus.io/port"
PATH_ANNOTATION = "prometheus.io/path"

# SLOs: the error ratio over each window the burn-rate alerts read, and the SLO period.
# Windows and burn rates: Google SRE workbook, "Alerting on SLOs", table 5-8
# (https://sre.google/workbook/alerting-on-slos/), as Sloth generates them (https://sloth.dev).
ERROR_RATIO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
SLO_PERIOD = naming.SLO_PERIOD  # the burn rates below are fractions of a 30-day budget


def error_ratio(window: str) -> str:
    """The recording rule holding each service's share of failed requests over `window` (Sloth's name)."""
    return f"slo:sli_error:ratio_rate{window}"


ERROR_BUDGET_REMAINING = "slo:period_error_budget_remaining:ratio"  # 1 = untouched, 0 = spent, below 0 = overspent


@dataclass(frozen=True)
class BurnWindow:
    """Alert when the error ratio is above `factor` x the error budget over both windows."""

    factor: Decimal
    long: str
    short: str


@dataclass(frozen=True)
class BurnRateAlert:
    name: str
    severity: str
    windows: tuple[BurnWindow, ...]
    meaning: str


FAST_BURN = BurnRateAlert(
    "ErrorBudgetFastBurn", "critical",
    (BurnWindow(Decimal("14.4"), "1h", "5m"), BurnWindow(Decimal("6"), "6h", "30m")),
    "2% of the 30-day error budget spent in an hour, or 5% in six hours: page",
)
SLOW_BURN = BurnRateAlert(
    "ErrorBudgetSlowBurn", "warning",
    (BurnWindow(Decimal("3"), "1d", "2h"), BurnWindow(Decimal("1"), "3d", "6h")),
    "10% of the 30-day error budget spent in a day, or 10% in three days: open a ticket",
)
BURN_RATE_ALERTS = (FAST_BURN, SLOW_BURN)

CRITICAL = "critical"  # someone is paged
WARNING = "warning"  # a ticket, handled in working hours
NONE = "none"  # the Watchdog: routed to a dead man's switch, never to a person


def sanitized(name: str) -> str:
    """A Kubernetes label or annotation key as Prometheus' Kubernetes discovery writes it in meta labels."""
    return "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in name)


def pod_annotation(key: str) -> str:
    return f"__meta_kubernetes_pod_annotation_{sanitized(key)}"


def pod_label(key: str) -> str:
    return f"__meta_kubernetes_pod_label_{sanitized(key)}"


def exporter(datastore: str) -> str:
    """The `app.kubernetes.io/name` of the exporter pods watching a data store, hence their series' `service`."""
    return exporter_name(datastore)

