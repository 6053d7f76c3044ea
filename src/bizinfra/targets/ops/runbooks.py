"""docs/runbooks/<alert>.md: one page per alert, built from the alert rules themselves, so an alert cannot exist
without its page, and its `runbook_url` (the same `runbook_file`) names it.

A page serves every environment the alert fires in: the meaning and the rule are the same, only the cluster,
namespace and expression differ, so each environment gets its own section of commands rather than its own page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bizinfra.naming import SERVICE_NAME_LABEL, SLOT_LABEL
from bizinfra.plan import DatastorePlan, EnvironmentPlan, PlatformPlan
from bizinfra.targets.monitoring import metrics as m
from bizinfra.targets.monitoring.rules import WATCHDOG, rule_groups, runbook_page

Rule = dict[str, Any]
Commands = list[str]

ROLLBACK = "scripts/rollback.sh"
DEBUG_DB = "scripts/debug-db.sh"
SILENCE_FOR = "2h"
REACHES = {m.CRITICAL: "pages the on-call now", m.WARNING: "opens a ticket, for working hours",
           m.NONE: "reaches no person: it goes to the dead man's switch, which raises the alarm when it stops"}
PROMETHEUS_SERVICE, PROMETHEUS_PORT = "prometheus-operated", 9090  # prometheus-operator's, like Alertmanager's
# The annotation templates, as a reader of the page fills them in.
TEMPLATE_WORDS = {"$labels.service": "<service>", "$labels.pod": "<pod>", "$labels.job_name": "<run>",
                  "$value | humanizePercentage": "<value>",
                  "$value | humanize": "<value>"}


def runbook_pages(plan: PlatformPlan) -> dict[str, str]:
    """Page path -> Markdown, for every alert of every Kubernetes environment."""
    fired: dict[str, list[tuple[EnvironmentPlan, list[Rule]]]] = {}
    for env in plan.on("kubernetes"):
        for alert, rules in alerts(env).items():
            fired.setdefault(alert, []).append((env, rules))
    return {runbook_page(alert): page(plan, alert, envs) for alert, envs in sorted(fired.items())}


def alerts(env: EnvironmentPlan) -> dict[str, list[Rule]]:
    """The environment's alert rules by name (ServiceDown and the data store alerts have several)."""
    by_name: dict[str, list[Rule]] = {}
    for group in rule_groups(env):
        for rule in group["rules"]:
            if "alert" in rule:
                by_name.setdefault(rule["alert"], []).append(rule)
    return by_name


def in_words(env: EnvironmentPlan, rule: Rule, annotation: str) -> str:
    """An annotation as the page says it: templates, and the name of a rule's one service (ServiceDown has a rule
    per service and one page), as placeholders; a data store's name stays, each store has its own commands."""
    text = re.sub(r"\{\{ (.+?) \}\}", lambda match: TEMPLATE_WORDS.get(match[1], match[0]), annotation)
    service = rule["labels"].get(m.SERVICE)
    if service in {each.name for each in env.services}:
        text = re.sub(rf"\b{re.escape(service)}\b", "<service>", text)
    return text


def page(plan: PlatformPlan, alert: str, fired: list[tuple[EnvironmentPlan, list[Rule]]]) -> str:
    env, (first, *_) = fired[0]
    severity = first["labels"]["severity"]
    lines = [
        f"# {alert}",
        "",
        f"{in_words(env, first, first['annotations']['summary'])}. Severity `{severity}`: {REACHES[severity]}. "
        f"It fires once its expression has held for {first.get('for', 'one evaluation')} (`for:`).",
        "",
        f"Run the commands from `generated/{plan.name}` (where `scripts/` is); each kubectl context is named after "
        "its cluster (`aws eks update-kubeconfig --region REGION --name CLUSTER --alias CLUSTER`).",
        "",
    ]
    for env, rules in fired:
        lines += environment_section(env, alert, rules)
    return "\n".join(lines).rstrip() + "\n"


def environment_section(env: EnvironmentPlan, alert: str, rules: list[Rule]) -> list[str]:
    stores = [env.datastore(rule["labels"][m.SERVICE]) for rule in rules
              if rule["labels"].get(m.SERVICE) in {store.name for store in env.datastores}]
    lines = [f"## {env.name}", "", f"Cluster `{env.cluster_name}`, namespace `{env.namespace}`.", ""]
    if stores:
        for store in stores:
            rule = next(rule for rule in rules if rule["labels"][m.SERVICE] == store.name)
            lines += meaning(env, rule) + commands(STORE_COMMANDS[alert](env, store)) + silence(env, alert, store.name)
    elif alert == WATCHDOG:
        lines += meaning(env, rules[0]) + commands(watchdog_commands(env)) + watchdog_silence(env)
    else:
        lines += meaning(env, rules[0]) + commands(SERVICE_COMMANDS.get(alert, service_commands)(env)) \
            + silence(env, alert, "$service")
    return lines


def meaning(env: EnvironmentPlan, rule: Rule) -> list[str]:
    description, expr = (in_words(env, rule, text) for text in (rule["annotations"]["description"], rule["expr"]))
    return [description, "", "```promql", expr, "```", ""]


def commands(lines: Commands) -> list[str]:
    return ["First three commands:", "", "```sh", *lines, "```", ""]


def kubectl(env: EnvironmentPlan, namespace: str | None = None) -> str:
    return f"kubectl --context {env.cluster_name} --namespace {namespace or env.namespace}"


def service_commands(env: EnvironmentPlan) -> Commands:
    """Which pods are unwell, what was deployed, and the way back. Rules over every service say which one in
    their `service` label; ServiceDown has one rule per service."""
    services = ", ".join(service.name for service in env.services)
    pods = f'{kubectl(env)} get pods -l {SERVICE_NAME_LABEL}="$service"'
    lines = [f"service=SERVICE  # the alert's service label: {services}"]
    if env.rollout == "blue-green":
        lines += ["slot=blue  # the slot serving traffic: blue or green (the first command shows each pod's slot)",
                  f"{pods} -L {SLOT_LABEL}",
                  f'{kubectl(env)} rollout history deployment/"$service-$slot"',
                  f'{ROLLBACK} {env.name} "$service" REVISION "$slot"  # REVISION: the last good one above']
    else:
        lines += [pods, f'{kubectl(env)} rollout history deployment/"$service"',
                  f'{ROLLBACK} {env.name} "$service" REVISION  # REVISION: the last good one above']
    return lines


def request_metrics_commands(env: EnvironmentPlan) -> Commands:
    """What a pod of the service exposes on its metrics path, read through the API server (no port-forward, no
    shell in the image): the request metrics the rules read, or their absence; then what the service logs."""
    services = ", ".join(f"{service.name}={service.port}{service.metrics_path}" for service in env.services
                         if service.takes_requests)
    pod = f'{kubectl(env)} get pods -l {SERVICE_NAME_LABEL}="$service" --output name | head -n 1'
    source = f'"/api/v1/namespaces/{env.namespace}/pods/${{pod#pod/}}:$port/proxy$path"'
    return [f"service=SERVICE port=PORT path=PATH  # the alert's service label, its port and metrics path: {services}",
            f'pod="$({pod})"; echo "$pod"',
            f"{kubectl(env)} get --raw {source} | grep -E '^(# TYPE )?{m.REQUESTS.removesuffix('_total')}'",
            f'{kubectl(env)} logs "$pod" --tail=50']


def watchdog_commands(env: EnvironmentPlan) -> Commands:
    """When the Watchdog stops: is Prometheus running, has it loaded the rules, does it reach Alertmanager."""
    stack = env.monitoring_stack.namespace
    api = f"http://localhost:{PROMETHEUS_PORT}/api/v1"
    return [f"{kubectl(env, stack)} get prometheus,alertmanager,pods",
            f"{kubectl(env)} get prometheusrule",
            f"{kubectl(env, stack)} port-forward service/{PROMETHEUS_SERVICE} {PROMETHEUS_PORT}:{PROMETHEUS_PORT} & "
            f"sleep 2; curl -s {api}/alertmanagers; curl -s '{api}/rules?type=alert' | grep -c {WATCHDOG}"]


def watchdog_silence(env: EnvironmentPlan) -> list[str]:
    return ["Never silence it while the monitoring works: a silenced Watchdog no longer reaches the dead man's "
            "switch, which then raises the alarm. To test that switch, that is exactly what to do:", "",
            *silence(env, WATCHDOG, None)[2:]]


def users_selector(store: DatastorePlan) -> str:
    return f"{SERVICE_NAME_LABEL} in ({','.join(store.users)})"


def connection_failed_commands(env: EnvironmentPlan, store: DatastorePlan) -> Commands:
    """The store's AWS status and a connection from a client pod first; then the clients that suffer (or, when
    no service uses the store, the exporter that reports it down)."""
    if not store.users:
        return [f"{DEBUG_DB} {env.name} {store.name}", *metrics_missing_commands(env, store)[:2]]
    return [f"{DEBUG_DB} {env.name} {store.name}",
            f"{kubectl(env)} get pods -l '{users_selector(store)}'",
            f"{kubectl(env)} logs -l '{users_selector(store)}' --prefix --tail=50"]


def metrics_missing_commands(env: EnvironmentPlan, store: DatastorePlan) -> Commands:
    """The exporter is the suspect: is it running, what does it say; then is the store itself up."""
    exporter = f"{SERVICE_NAME_LABEL}={m.exporter(store.name)}"
    return [f"{kubectl(env)} get pods -l {exporter}",
            f"{kubectl(env)} logs -l {exporter} --prefix --tail=50",
            f"{DEBUG_DB} {env.name} {store.name}"]


def redis_commands(pattern: str) -> Callable[[EnvironmentPlan, DatastorePlan], Commands]:
    """The store's AWS status, then the exporter's figures the alert reads (`pattern`: their names after `redis_`)."""
    def store_commands(env: EnvironmentPlan, store: DatastorePlan) -> Commands:
        exporter = env.exporter(store.name)
        return [f"{DEBUG_DB} {env.name} {store.name}",
                f"{kubectl(env)} port-forward deployment/{exporter.name} {exporter.port}:{exporter.port} &",
                f"curl -s localhost:{exporter.port}/metrics | grep -E '^redis_({pattern})'"]
    return store_commands


STORE_COMMANDS: dict[str, Callable[[EnvironmentPlan, DatastorePlan], Commands]] = {
    "DatabaseConnectionFailed": connection_failed_commands,
    "DatabaseMetricsMissing": metrics_missing_commands,
    "RedisConnectionFailed": connection_failed_commands,
    "RedisMetricsMissing": metrics_missing_commands,
    "RedisMemoryNearLimit": redis_commands("memory_(used|max)_bytes|evicted_keys_total"),
    "RedisEvictions": redis_commands("evicted_keys_total|memory_(used|max)_bytes|db_keys"),
    "RedisConnectionsNearLimit": redis_commands("connected_clients|max_clients|config_maxclients|blocked_clients"),
    "RedisRejectedConnections": redis_commands("rejected_connections_total|connected_clients|max_clients"),
    "RedisReplicasMissing": redis_commands("connected_slaves|instance_info|master_repl_offset"),
    "RedisMasterLinkDown": redis_commands("master_link_up|master_last_io_seconds_ago|connected_slaves"),
}
def cron_job_commands(env: EnvironmentPlan) -> Commands:
    """The failed run's pods and their logs; then, once fixed, a run now and the failed Job gone (which resolves the
    alert)."""
    jobs = ", ".join(service.name for service in env.services if service.cron)
    return [f"service=SERVICE run=RUN  # the alert's service (the cron job: {jobs}) and job_name labels",
            f'{kubectl(env)} get pods -l job-name="$run"; {kubectl(env)} logs job/"$run" --tail=100',
            f'{kubectl(env)} create job "$service-manual-$(date +%s)" --from=cronjob/"$service"; '
            f'{kubectl(env)} delete job "$run"']


def overdue_commands(env: EnvironmentPlan) -> Commands:
    """Is the CronJob there and not suspended, when did it last schedule and succeed; then its last runs and the
    controller's events (missed start times, runs skipped past start_within); then a run now."""
    jobs = ", ".join(service.name for service in env.services if service.cron)
    return [f"service=SERVICE  # the alert's service label (the cron job: {jobs})",
            f'{kubectl(env)} get cronjob "$service" --output wide; '
            f'{kubectl(env)} get jobs -l {SERVICE_NAME_LABEL}="$service" --sort-by=.status.startTime',
            f'{kubectl(env)} get events --field-selector involvedObject.name="$service"',
            f'{kubectl(env)} create job "$service-manual-$(date +%s)" --from=cronjob/"$service"  # resolves on success']


SERVICE_COMMANDS: dict[str, Callable[[EnvironmentPlan], Commands]] = {
    "RequestMetricsMissing": request_metrics_commands,
    "CronJobFailed": cron_job_commands,
    "CronJobSuccessOverdue": overdue_commands,
}


def silence(env: EnvironmentPlan, alert: str, service: str | None) -> list[str]:
    """Alertmanager runs beside Prometheus, in the monitoring stack's namespace; amtool reaches it through a
    port-forward."""
    stack, service_name, port = (env.monitoring_stack.namespace, env.monitoring_stack.alertmanager_service,
                                  env.monitoring_stack.alertmanager_port)
    service_matcher = f' service="{service}"' if service else ""  # the Watchdog has no service
    matchers = f"alertname={alert}{service_matcher} environment={env.name}"
    return [
        f"Silence it for {SILENCE_FOR} (Alertmanager runs in namespace `{stack}` of "
        f"`{env.cluster_name}`):",
        "",
        "```sh",
        f"{kubectl(env, stack)} port-forward service/{service_name} {port}:{port} &",
        f"amtool silence add {matchers} --duration={SILENCE_FOR} --comment=\"investigating: $USER\" "
        f"--alertmanager.url=http://localhost:{port}",
        "```",
        "",
    ]
