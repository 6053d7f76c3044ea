"""Who hears of which alert: Alertmanager's configuration for one environment, from the spec's `monitoring.receivers`,
`pages`, `tickets` and `heartbeat`.

Pages (critical) and tickets (warning) are routed apart, each to every receiver named for it; the always-firing
Watchdog goes to the heartbeat receiver, a dead man's switch; anything else (the stack's own `info` alerts, a
severity nobody routes) goes to the `null` receiver, which drops it. A service that is down inhibits the error and
latency alerts it causes, and a critical alert the warning of the same name.

No receiver's URL, key or password is in this file or in git: each is read from a file Alertmanager finds where
kube-prometheus-stack mounts the Secrets listed in `alertmanager.alertmanagerSpec.secrets`, here the one Secret
`receivers_secret_name(env)`, which an ExternalSecret fills from Secrets Manager (targets/kubernetes/addons.py).
The Helm values take `alertmanager_config(env)` as `alertmanager.config` and `[receivers_secret_name(env)]` as
`alertmanager.alertmanagerSpec.secrets`.
"""

from __future__ import annotations

from typing import Any

from bizinfra.naming import NULL_RECEIVER
from bizinfra.plan import EnvironmentPlan, ReceiverPlan
from bizinfra.targets.monitoring import metrics as m
from bizinfra.targets.monitoring.rules import rule_groups

Document = dict[str, Any]

# prometheus-operator mounts each Secret named in the Alertmanager's `secrets` at <this>/<secret name>/<key>.
SECRETS_MOUNT = "/etc/alertmanager/secrets"
HEARTBEAT_ALERT = "Watchdog"  # always firing while Prometheus evaluates rules and Alertmanager delivers
SEVERITY = "severity"

GROUP_BY = ["alertname", m.NAMESPACE, m.SERVICE]  # one notification per alert and service, however many pods
GROUP_WAIT = "30s"  # wait for the alerts that fire together to send them as one
GROUP_INTERVAL = "5m"  # a group that changes is told again after this
PAGE_REPEAT = "1h"  # an unresolved page is repeated: it wakes someone until acknowledged or silenced
TICKET_REPEAT = "12h"  # an unresolved ticket is told about again twice a day
# The heartbeat is expected every minute: set the dead man's switch to alarm after about five minutes without one.
HEARTBEAT_INTERVAL = "1m"

# What a down service causes (no requests answered, so no error ratio or latency worth paging for): while
# ServiceDown fires, these alerts of the same namespace and service are held back.
SERVICE_DOWN = "ServiceDown"
SYMPTOMS_OF_SERVICE_DOWN = ("HighErrorRate", "HighLatency", m.FAST_BURN.name, m.SLOW_BURN.name)


def receivers_secret_name(env: EnvironmentPlan) -> str:
    """The Kubernetes Secret, in the monitoring stack's namespace, holding one key per receiver (its name): the one
    Secret Alertmanager mounts, listed in kube-prometheus-stack's `alertmanager.alertmanagerSpec.secrets`."""
    return f"{env.platform}-alert-receivers"


def secret_file(env: EnvironmentPlan, receiver: ReceiverPlan) -> str:
    """Where Alertmanager reads the receiver's URL, key or password: its key of the mounted Secret."""
    return f"{SECRETS_MOUNT}/{receivers_secret_name(env)}/{receiver.name}"


def alertmanager_config(env: EnvironmentPlan) -> Document:
    """alertmanager.yml for the environment's cluster: the route tree, the inhibition rules and the receivers."""
    return {
        "route": route_tree(env),
        "inhibit_rules": inhibit_rules(),
        "receivers": [{"name": NULL_RECEIVER}, *(receiver(env, r) for r in env.alerting.receivers)],
    }


# -- routes ---------------------------------------------------------------------------------------------------------


def route_tree(env: EnvironmentPlan) -> Document:
    """The Watchdog first, then a route per page receiver and per ticket receiver, in the spec's order; all but the
    last of a severity `continue`, so each of its receivers is told. Unmatched alerts stay at the root: `null`."""
    alerting = env.alerting
    routes = []
    if alerting.heartbeat:
        routes.append({"receiver": alerting.heartbeat, "matchers": [matcher("alertname", HEARTBEAT_ALERT)],
                       "group_wait": "0s", "group_interval": HEARTBEAT_INTERVAL,
                       "repeat_interval": HEARTBEAT_INTERVAL})
    routes += severity_routes(m.CRITICAL, alerting.pages, PAGE_REPEAT)
    routes += severity_routes(m.WARNING, alerting.tickets, TICKET_REPEAT)
    return {"receiver": NULL_RECEIVER, "group_by": GROUP_BY, "group_wait": GROUP_WAIT,
            "group_interval": GROUP_INTERVAL, "repeat_interval": TICKET_REPEAT, "routes": routes}


def severity_routes(severity: str, receivers: tuple[str, ...], repeat: str) -> list[Document]:
    names = list(dict.fromkeys(receivers))  # a receiver named twice is told once
    return [{"receiver": name, "matchers": [matcher(SEVERITY, severity)], "repeat_interval": repeat,
             **({"continue": True} if index < len(names) - 1 else {})}
            for index, name in enumerate(names)]


def matcher(label: str, value: str) -> str:
    return f'{label}="{value}"'


# -- inhibition -----------------------------------------------------------------------------------------------------


def inhibit_rules() -> list[Document]:
    """A cause holds back its symptoms of the same service: a service down its error and latency alerts, a page
    the ticket of the same alert, the fast budget burn the slow one."""
    return [
        {"source_matchers": [matcher("alertname", SERVICE_DOWN)],
         "target_matchers": [f'alertname=~"{"|".join(SYMPTOMS_OF_SERVICE_DOWN)}"'],
         "equal": [m.NAMESPACE, m.SERVICE]},
        {"source_matchers": [matcher(SEVERITY, m.CRITICAL)], "target_matchers": [matcher(SEVERITY, m.WARNING)],
         "equal": ["alertname", m.NAMESPACE, m.SERVICE]},
        {"source_matchers": [matcher("alertname", m.FAST_BURN.name)],
         "target_matchers": [matcher("alertname", m.SLOW_BURN.name)], "equal": [m.NAMESPACE, m.SERVICE]},
    ]


# -- receivers ------------------------------------------------------------------------------------------------------

# What a Slack message says of each alert; the default text is empty.
SLACK_TEXT = ("{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\n"
              "Runbook: {{ .Annotations.runbook_url }}\n{{ end }}")


def receiver(env: EnvironmentPlan, plan: ReceiverPlan) -> Document:
    """Each kind reads its secret from the mounted file (`*_file`), never from this configuration. Verified with
    Debian's amtool 0.25: `api_url_file` (slack), `routing_key_file` (pagerduty) and `auth_password_file` (email)
    exist there; the webhook's `url_file` came with Alertmanager 0.26 (data/reference/alertmanager/SOURCES.md)."""
    path = secret_file(env, plan)
    if plan.kind == "slack":
        config: Document = {"api_url_file": path, "channel": plan.channel, "text": SLACK_TEXT}
    elif plan.kind == "pagerduty":
        config = {"routing_key_file": path}
    elif plan.kind == "email":
        # Alertmanager has no auth_username_file: the SMTP login is the sender address, the password the secret.
        config = {"to": plan.to, "from": plan.sender, "smarthost": plan.smarthost, "auth_username": plan.sender,
                  "auth_password_file": path}
    else:
        config = {"url_file": path}
    return {"name": plan.name, f"{plan.kind}_configs": [{**config, "send_resolved": True}]}


# -- what routing must do, for `bizinfra validate` --------------------------------------------------------------------


def routing_expectations(env: EnvironmentPlan) -> Document:
    """alertmanager.routes.yml: the receivers each alert of rules.yml must reach, read from the spec's pages, tickets
    and heartbeat (not from the route tree), which `bizinfra validate` checks with `amtool config routes test`."""
    alerting = env.alerting
    reaches = {m.CRITICAL: alerting.pages, m.WARNING: alerting.tickets}
    cases = {}
    for group in rule_groups(env):
        for rule in group["rules"]:
            if "alert" in rule:
                labels = {"alertname": rule["alert"], **rule["labels"]}
                cases[(rule["alert"], labels[SEVERITY])] = labels
    cases[(HEARTBEAT_ALERT, "none")] = {"alertname": HEARTBEAT_ALERT, SEVERITY: "none"}
    tests = []
    for (alert, severity), labels in sorted(cases.items()):
        receivers = [alerting.heartbeat] if alert == HEARTBEAT_ALERT and alerting.heartbeat \
            else list(dict.fromkeys(reaches.get(severity, ())))
        tests.append({"labels": labels, "receivers": receivers or [NULL_RECEIVER]})
    return {"tests": tests}
