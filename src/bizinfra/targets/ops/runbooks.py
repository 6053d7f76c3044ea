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
from bizinfra.targets.monitoring.rules import rule_groups, runbook_page

Rule = dict[str, Any]
Commands = list[str]

ROLLBACK = "scripts/rollback.sh"
DEBUG_DB = "scripts/debug-db.sh"
SILENCE_FOR = "2h"
REACHES = {m.CRITICAL: "pages the on-call now", m.WARNING: "opens a ticket, for working hours"}
# The annotation templates, as a reader of the page fills them in.
TEMPLATE_WORDS = {"$labels.service": "<service>", "$labels.pod": "<pod>", "$value | humanizePercentage": "<value>",
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
    else:
        lines += meaning(env, rules[0]) + commands(service_commands(env)) + silence(env, alert, "$service")
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
    exporter = f"{SERVICE_NAME_LABEL}={m.postgres_exporter(store.name)}"
    return [f"{kubectl(env)} get pods -l {exporter}",
            f"{kubectl(env)} logs -l {exporter} --prefix --tail=50",
            f"{DEBUG_DB} {env.name} {store.name}"]


STORE_COMMANDS: dict[str, Callable[[EnvironmentPlan, DatastorePlan], Commands]] = {
    "DatabaseConnectionFailed": connection_failed_commands,
    "DatabaseMetricsMissing": metrics_missing_commands,
}


def silence(env: EnvironmentPlan, alert: str, service: str) -> list[str]:
    """Alertmanager runs beside Prometheus, in the monitoring stack's namespace; amtool reaches it through a
    port-forward."""
    stack, service_name, port = (env.monitoring_stack.namespace, env.monitoring_stack.alertmanager_service,
                                  env.monitoring_stack.alertmanager_port)
    matchers = f'alertname={alert} service="{service}" environment={env.name}'
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
