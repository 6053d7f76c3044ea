"""CloudWatch alarms for what only AWS sees, and the SNS topics that carry them to the spec's receivers.

Prometheus watches the services from inside the cluster; it cannot see a database's disk, a cache's evictions,
the load balancer's own 5xx answers or a NAT gateway's dropped packets. Those alarms go to two topics per
environment, routed as Alertmanager routes its alerts: `pages` (a user-facing outage now) reaches
`monitoring.pages`, `tickets` (trouble building up) reaches `monitoring.tickets`. Each alarm sends its OK to the
same topic, so PagerDuty resolves the incident it opened.

How a receiver is reached:
- email: an e-mail subscription to its `to` address (AWS mails a confirmation link once).
- pagerduty, webhook: an https subscription whose URL would let anyone post, so it is not in git. It comes from
  the sensitive variable `alert_endpoints` (receiver name -> URL), empty by default: the first apply, before anyone
  stored a URL, creates no https subscription and succeeds; a later apply with the URL adds it. A variable, not a
  data source of the receiver's secret, because whether a subscription exists must be known at plan time, and on
  the first plan the secret has no value yet (reading it would fail the plan).
- slack: AWS Chatbot, whose Slack workspace must be authorised once in its console and whose API answers in a few
  regions only; the generated alarms.md says how to point it at the topics. Not generated.

With a second region, a third topic, `failover`, in us-east-1, pages the same receivers when Route 53 fails the
public hosts' origin over to the standby: Route 53 publishes its health checks' metrics in us-east-1 only, and an
alarm in the environment's own region could not page anyone while that region is down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bizinfra.plan import DatastorePlan, EnvironmentPlan, ReceiverPlan
from bizinfra.targets.terraform.blocks import (
    Block,
    iam_document,
    merge,
    name,
    output,
    policy_document,
    principal,
    ref,
    stack_arn,
    statement,
    tags,
    variable,
)
from bizinfra.targets.terraform.edge import PRIMARY_HEALTH, origin_name
from bizinfra.targets.terraform.handles import (
    ACCOUNT,
    KMS_KEY,
    LOAD_BALANCER,
    NAT_GATEWAYS,
    Data,
    Resource,
    cache,
    cache_nodes,
    database,
    target_group,
)
from bizinfra.targets.terraform.network import nat_gateways
from bizinfra.targets.terraform.public import CLOUDFRONT_REGION, US_EAST_1, public_hosts
from bizinfra.targets.terraform.settings import alarm_topics_grant

PAGES = Resource("aws_sns_topic", "pages")
TICKETS = Resource("aws_sns_topic", "tickets")
FAILOVER = Resource("aws_sns_topic", "failover")  # in us-east-1, with the second region only
FAILOVER_KEY = Resource("aws_kms_key", "failover")
ENDPOINTS = "alert_endpoints"  # the variable of the https receivers' URLs
DATABASE_CLASS = Data("aws_ec2_instance_type", "database_class")
HTTPS_KINDS = ("pagerduty", "webhook")

# Thresholds. "Recommended alarms" is the CloudWatch user guide's page of that name (Best_Practice_Recommended_
# Alarms_AWS_Services); its shapes are statistic, a 60 s period and N of N datapoints.
MINUTE = 60
# RDS CPUUtilization, recommended alarms: Average above 90%, 5 of 5 minutes ("sustained high CPU can hinder
# upcoming database requests").
DATABASE_CPU_PERCENT = 90
# RDS storage autoscaling grows the volume when free space stays under 10% of it for 5 minutes, at most every
# 6 hours, up to max_allocated_storage (RDS user guide, "Managing capacity automatically with storage
# autoscaling"). An alarm at half that, of the starting size, fires only when autoscaling has not kept up: a full
# disk stops every write, so it pages. (Recommended alarms: FreeStorageSpace, Minimum, 5 of 5 minutes.)
FREE_STORAGE_FRACTION = 0.05
# RDS for PostgreSQL's default max_connections is LEAST({DBInstanceClassMemory/9531392}, 5000) (RDS user guide,
# "Maximum number of database connections"); recommended alarms: alarm at 90-95% of it, 5 of 5 minutes.
# DBInstanceClassMemory is the class's memory less what RDS keeps for the OS, which Terraform cannot read, so the
# estimate uses the class's nominal memory (EC2's figure for the same instance type) and the alarm fires at 80% of
# that estimate, to stay under the real limit.
CONNECTIONS_PER_BYTE = 9531392
MAX_CONNECTIONS = 5000
CONNECTIONS_FRACTION = 0.8
# ElastiCache DatabaseMemoryUsagePercentage, recommended alarms: Average, 5 of 5 minutes, threshold "depends on
# your situation". 90%: the cache evicts at 100% (maxmemory), and this leaves minutes to act before it does.
CACHE_MEMORY_PERCENT = 90
# Recommended alarms (ElastiCache Evictions): Sum, 5 of 5 minutes, threshold "depends on your situation". Any
# eviction for five minutes running means the cache is full and dropping keys the services put there.
EVICTIONS = 0
# ElastiCache ReplicationLag, recommended alarms: Maximum, 15 of 15 minutes. 60 s is what the same page
# recommends as the most RDS replica lag to accept.
REPLICATION_LAG_SECONDS = 60
# ALB target health (ELB user guide, "CloudWatch metrics for your Application Load Balancer"): "monitor for
# non-zero UnHealthyHostCount in the Minimum statistic, and alarm on non-zero value for more than one data point";
# Minimum means every load balancer node sees it. HealthyHostCount's Maximum under 1: no node sees a healthy
# target, the service is down at the edge.
UNHEALTHY_DATAPOINTS = 2
# NAT gateways (recommended alarms, NATGateway): ErrorPortAllocation, Sum above 0 for 15 of 15 minutes;
# PacketsDropCount as PacketsDropCount / (PacketsInFromSource + PacketsInFromDestination) * 100 above 0.01%
# (VPC user guide, "NAT gateway metrics": above it, "there may be an issue with Amazon VPC service"), 5 of 5.
PORT_ALLOCATION_MINUTES = 15
DROPPED_PACKETS_PERCENT = 0.01
# Route 53 HealthCheckStatus: 1 healthy, 0 unhealthy, one datapoint a minute, in us-east-1 only (Route 53 developer
# guide, "Monitoring health checks using CloudWatch"); Minimum, so one unhealthy reading in a minute counts. 3 of 3
# one-minute datapoints, the shape AWS Incident Detection and Response gives for "potential workload impact" (its
# user guide, "Example use cases for CloudWatch alarms"): a failover that outlasts a blip.
FAILOVER_MINUTES = 3


@dataclass(frozen=True)
class Metric:
    """One CloudWatch metric of one resource of the stack."""

    namespace: str
    name: str
    dimensions: dict[str, str]  # each value references the resource it measures
    statistic: str

    def query(self, id_: str) -> Block:
        return {"id": id_, "return_data": False, "metric": {
            "namespace": self.namespace, "metric_name": self.name, "dimensions": self.dimensions,
            "stat": self.statistic, "period": MINUTE}}


def alarms(env: EnvironmentPlan) -> Block:
    parts = [topics(env), endpoints_variable(env), subscriptions(topic_receivers(env))]
    databases = [store for store in env.datastores if store.engine == "postgres"]
    if databases:  # every database has the environment's one instance class
        parts.append(DATABASE_CLASS.declare({"instance_type": env.sizes.database.removeprefix("db.")}))
    parts += [database_alarms(env, store) for store in databases]
    parts += [cache_alarms(env, store) for store in env.datastores if store.engine == "redis"]
    parts += [load_balancer_alarms(env), nat_alarms(env), failover_alarm(env)]
    return merge(*parts)


# -- topics and who hears them ------------------------------------------------------------


def topics(env: EnvironmentPlan) -> Block:
    """Encrypted with the environment's key, whose policy lets CloudWatch publish (settings.kms_key)."""
    parts = []
    for topic, what in ((PAGES, "pages: an outage now, wake someone"), (TICKETS, "tickets: handle in working hours")):
        parts += [
            topic.declare({"name": name(env, "alarms", topic.name, limit=256),
                           "display_name": f"{env.qualified_name} {topic.name}",
                           "kms_master_key_id": KMS_KEY.ref("arn"),
                           "tags": tags(env, "alarms", topic.name)}),
            output(f"{topic.name}_topic_arn", topic.ref("arn"), f"The SNS topic of CloudWatch {what}."),
        ]
    return merge(*parts)


def topic_receivers(env: EnvironmentPlan) -> list[tuple[Resource, ReceiverPlan]]:
    """(topic, receiver) for every receiver of pages and of tickets, as the spec routes them."""
    alerting = env.alerting
    return [(topic, alerting.receiver(receiver))
            for topic, names in ((PAGES, alerting.pages), (TICKETS, alerting.tickets)) for receiver in names]


def https_receivers(env: EnvironmentPlan) -> list[str]:
    return sorted({receiver.name for _, receiver in topic_receivers(env) if receiver.kind in HTTPS_KINDS})


def endpoints_variable(env: EnvironmentPlan) -> Block:
    names = https_receivers(env)
    if not names:
        return {}
    return variable(
        ENDPOINTS, "map(string)",
        "The HTTPS endpoint SNS delivers CloudWatch alarms to, by receiver name (" + ", ".join(names) + "): "
        "PagerDuty's Amazon CloudWatch integration URL, or a webhook that confirms SNS subscriptions. Secret: pass "
        "it as TF_VAR_alert_endpoints (alarms.md). A receiver without one gets no subscription yet.",
        {}, sensitive=True,
        validation={"condition": ref(f"alltrue([for receiver, url in var.{ENDPOINTS} : "
                                     f"contains({_hcl_list(names)}, receiver) && startswith(url, \"https://\")])"),
                    "error_message": f"Name receivers among {', '.join(names)}, each with an https:// URL."})


def subscriptions(routes: list[tuple[Resource, ReceiverPlan]]) -> Block:
    """Each (topic, receiver) route as an SNS subscription; a Slack receiver is subscribed by hand (alarms.md)."""
    parts = []
    for topic, receiver in routes:
        label = f"{topic.name}_{receiver.name.replace('-', '_')}"
        if receiver.kind == "email":
            parts.append(Resource("aws_sns_topic_subscription", label).declare({
                "topic_arn": topic.ref("arn"), "protocol": "email", "endpoint": receiver.to}))
        elif receiver.kind in HTTPS_KINDS:
            parts.append(Resource("aws_sns_topic_subscription", label).declare({
                # Whether the URL is set is no secret; the URL is.
                "count": ref(f"contains(nonsensitive(keys(var.{ENDPOINTS})), \"{receiver.name}\") ? 1 : 0"),
                "topic_arn": topic.ref("arn"),
                "protocol": "https",
                "endpoint": ref(f"var.{ENDPOINTS}[\"{receiver.name}\"]"),
                # PagerDuty confirms SNS subscriptions itself; a webhook must fetch the SubscribeURL SNS sends it.
                "endpoint_auto_confirms": receiver.kind == "pagerduty",
            }))
    return merge(*parts)


def _hcl_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


# -- alarms -------------------------------------------------------------------------------


def alarm(env: EnvironmentPlan, label: str, topic: Resource, summary: str, *, metric: Metric | None = None,
          queries: list[Block] | None = None, comparison: str, threshold: Any, minutes: int, datapoints: int = 0,
          missing: str = "notBreaching") -> Block:
    """One alarm: `minutes` one-minute periods, `datapoints` of them breaching (all by default), to `topic`."""
    body: Block = {
        "alarm_name": name(env, *label.split("_"), limit=255),
        "alarm_description": f"{summary} ({topic.name}; generated by bizinfra, see alarms.md)",
        "comparison_operator": comparison,
        "threshold": threshold,
        "evaluation_periods": minutes,
        "datapoints_to_alarm": datapoints or minutes,
        "treat_missing_data": missing,
        "alarm_actions": [topic.ref("arn")],
        "ok_actions": [topic.ref("arn")],
        "tags": tags(env, "alarm", *label.split("_")),
    }
    if metric:
        body |= {"namespace": metric.namespace, "metric_name": metric.name, "dimensions": metric.dimensions,
                 "statistic": metric.statistic, "period": MINUTE}
    else:
        body["metric_query"] = queries
    return Resource("aws_cloudwatch_metric_alarm", label).declare(body)


def _label(*parts: str) -> str:
    return "_".join(part.replace("-", "_") for part in parts)


def database_alarms(env: EnvironmentPlan, store: DatastorePlan) -> Block:
    def rds(metric: str, statistic: str) -> Metric:
        return Metric("AWS/RDS", metric, {"DBInstanceIdentifier": database(store.name).ref("identifier")}, statistic)

    storage_bytes = env.sizes.database_storage * 2**30
    return merge(
        alarm(env, _label(store.name, "cpu"), TICKETS, f"{store.name}: CPU above {DATABASE_CPU_PERCENT}% for 5 minutes",
              metric=rds("CPUUtilization", "Average"), comparison="GreaterThanThreshold",
              threshold=DATABASE_CPU_PERCENT, minutes=5),
        alarm(env, _label(store.name, "storage"), PAGES,
              f"{store.name}: less than {FREE_STORAGE_FRACTION:.0%} of its first {env.sizes.database_storage} GiB "
              "free, and storage autoscaling has not kept up", metric=rds("FreeStorageSpace", "Minimum"),
              comparison="LessThanThreshold", threshold=int(storage_bytes * FREE_STORAGE_FRACTION), minutes=5,
              missing="missing"),
        alarm(env, _label(store.name, "connections"), TICKETS,
              f"{store.name}: connections near max_connections ({CONNECTIONS_FRACTION:.0%} of the class's default)",
              metric=rds("DatabaseConnections", "Average"), comparison="GreaterThanThreshold",
              threshold=ref(f"floor({CONNECTIONS_FRACTION} * min({DATABASE_CLASS.address}.memory_size * 1048576 / "
                            f"{CONNECTIONS_PER_BYTE}, {MAX_CONNECTIONS}))"),
              minutes=5),
    )


def cache_alarms(env: EnvironmentPlan, store: DatastorePlan) -> Block:
    """Per node: ElastiCache reports memory and evictions per cache cluster, `<replication group>-00N`."""
    nodes = cache_nodes(env.highly_available)
    parts = []
    for node in range(1, nodes + 1):
        member = f"{cache(store.name).ref('id')}-{node:03d}"

        def metric(name_: str, statistic: str, member: str = member) -> Metric:
            return Metric("AWS/ElastiCache", name_, {"CacheClusterId": member}, statistic)

        where = f"{store.name} node {node}"
        parts += [
            alarm(env, _label(store.name, str(node), "memory"), TICKETS,
                  f"{where}: memory above {CACHE_MEMORY_PERCENT}% of maxmemory for 5 minutes; evictions follow",
                  metric=metric("DatabaseMemoryUsagePercentage", "Average"), comparison="GreaterThanThreshold",
                  threshold=CACHE_MEMORY_PERCENT, minutes=5),
            alarm(env, _label(store.name, str(node), "evictions"), TICKETS,
                  f"{where}: evicting keys for 5 minutes running", metric=metric("Evictions", "Sum"),
                  comparison="GreaterThanThreshold", threshold=EVICTIONS, minutes=5),
        ]
        if nodes > 1:  # only a replica reports it; either node may be the replica after a failover
            parts.append(alarm(
                env, _label(store.name, str(node), "replication-lag"), TICKETS,
                f"{where}: a replica more than {REPLICATION_LAG_SECONDS} s behind the primary for 15 minutes",
                metric=metric("ReplicationLag", "Maximum"), comparison="GreaterThanThreshold",
                threshold=REPLICATION_LAG_SECONDS, minutes=15))
    return merge(*parts)


def load_balancer_alarms(env: EnvironmentPlan) -> Block:
    """The load balancer's own 5xx answers (no target, a timeout: what the services' metrics never count) as a
    share of requests against the spec's error rate; each public service's target health. Target 5xx are the
    services' own errors, which the Prometheus burn-rate alerts already page on."""
    public = [service for service in env.services if service.public_host]
    if not public:
        return {}
    balancer = {"LoadBalancer": LOAD_BALANCER.ref("arn_suffix")}
    percent = float(f"{env.slo.error_rate * 100:.6g}")
    parts = [alarm(
        env, "load_balancer_5xx", PAGES, f"the load balancer answered more than {percent:g}% of requests with its "
        "own 5xx for 5 minutes (no healthy target, a timeout)",
        queries=[
            Metric("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", balancer, "Sum").query("errors"),
            Metric("AWS/ApplicationELB", "RequestCount", balancer, "Sum").query("requests"),
            {"id": "error_percent", "expression": "100 * errors / requests", "label": "ELB 5xx, % of requests",
             "return_data": True},
        ], comparison="GreaterThanThreshold", threshold=percent, minutes=5)]
    for service in public:
        dimensions = {"TargetGroup": target_group(service.name).ref("arn_suffix"), **balancer}
        parts += [
            alarm(env, _label(service.name, "unhealthy-targets"), TICKETS,
                  f"{service.name}: every load balancer node sees an unhealthy pod",
                  metric=Metric("AWS/ApplicationELB", "UnHealthyHostCount", dimensions, "Minimum"),
                  comparison="GreaterThanThreshold", threshold=0, minutes=UNHEALTHY_DATAPOINTS),
            alarm(env, _label(service.name, "no-healthy-targets"), PAGES,
                  f"{service.name}: no healthy pod behind the load balancer for 2 minutes",
                  metric=Metric("AWS/ApplicationELB", "HealthyHostCount", dimensions, "Maximum"),
                  comparison="LessThanThreshold", threshold=1, minutes=2),
        ]
    return merge(*parts)


def nat_alarms(env: EnvironmentPlan) -> Block:
    parts = []
    for index in range(nat_gateways(env)):
        gateway, number = {"NatGatewayId": NAT_GATEWAYS.ref(f"[{index}].id")}, str(index + 1)

        def nat(metric: str, gateway: dict[str, str] = gateway) -> Metric:
            return Metric("AWS/NATGateway", metric, gateway, "Sum")

        parts += [
            alarm(env, _label("nat", number, "port-allocation"), TICKETS,
                  f"NAT gateway {number}: could not allocate a source port for {PORT_ALLOCATION_MINUTES} minutes "
                  "(too many connections to one destination)", metric=nat("ErrorPortAllocation"),
                  comparison="GreaterThanThreshold", threshold=0, minutes=PORT_ALLOCATION_MINUTES),
            alarm(env, _label("nat", number, "dropped-packets"), TICKETS,
                  f"NAT gateway {number}: dropping more than {DROPPED_PACKETS_PERCENT}% of packets for 5 minutes",
                  queries=[
                      nat("PacketsDropCount").query("dropped"),
                      nat("PacketsInFromSource").query("from_source"),
                      nat("PacketsInFromDestination").query("from_destination"),
                      {"id": "dropped_percent", "expression": "100 * dropped / (from_source + from_destination)",
                       "label": "Dropped packets, %", "return_data": True},
                  ], comparison="GreaterThanThreshold", threshold=DROPPED_PACKETS_PERCENT, minutes=5),
        ]
    return merge(*parts)


# -- the failover page, in us-east-1 ------------------------------------------------------
# The per-service origin alarms (edge.py) feed Route 53's health checks and send nothing: alarms.py's
# no-healthy-targets alarm of each service already pages for the same condition while the region is up. What no
# alarm in the region can say is that Route 53 moved the public hosts to the standby, nor anything at all while the
# region is down. This one watches the primary (calculated) check from us-east-1, where Route 53's metrics are.


def failover_routes(env: EnvironmentPlan) -> list[tuple[Resource, ReceiverPlan]]:
    """The failover topic reaches whoever `pages` reaches."""
    return [(FAILOVER, receiver) for topic, receiver in topic_receivers(env) if topic == PAGES]


def failover_alarm(env: EnvironmentPlan) -> Block:
    """With a second region and a public service (edge.primary_origin exists): the alarm, its topic and key, and
    the pages receivers' subscriptions, all through the us-east-1 provider public.py declares."""
    standby = env.recovery.standby
    if standby is None or not public_hosts(env):
        return {}
    return merge(
        failover_key(env),
        in_us_east_1(merge(
            FAILOVER.declare({"name": name(env, "alarms", FAILOVER.name, limit=256),
                              "display_name": f"{env.qualified_name} {FAILOVER.name}",
                              "kms_master_key_id": FAILOVER_KEY.ref("arn"),
                              "tags": tags(env, "alarms", FAILOVER.name)}),
            subscriptions(failover_routes(env)),
            alarm(env, "origin_failover", FAILOVER,
                  f"Route 53 answers {origin_name(env)} with the standby in {standby.region}: this region's origin "
                  f"failed its health check for {FAILOVER_MINUTES} minutes",
                  metric=Metric("AWS/Route53", "HealthCheckStatus", {"HealthCheckId": PRIMARY_HEALTH.ref("id")},
                                "Minimum"),
                  # Route 53 reports every minute whatever the origin does: no data is no verdict, not a failover.
                  comparison="LessThanThreshold", threshold=1, minutes=FAILOVER_MINUTES, missing="missing"),
        )),
        output("failover_topic_arn", FAILOVER.ref("arn"), "The SNS topic (us-east-1) of the region failover page."),
    )


def failover_key(env: EnvironmentPlan) -> Block:
    """A key never leaves its region, so the failover topic has its own in us-east-1, with the pages key's grant."""
    policy = iam_document("kms_failover")
    account = ACCOUNT.ref("account_id")
    return merge(
        policy_document(policy, [
            statement(["kms:*"], ["*"], sid="AccountAdministers",
                      principals=[principal("AWS", stack_arn("iam", "root", account=account))]),
            alarm_topics_grant(),
        ]),
        in_us_east_1(FAILOVER_KEY.declare({
            "description": f"{env.qualified_name}: the failover alarm topic in us-east-1",
            "enable_key_rotation": True,
            "deletion_window_in_days": 30 if env.production else 7,
            "policy": policy.ref("json"),
        })),
    )


def in_us_east_1(block: Block) -> Block:
    """Every resource of a block, made through the us-east-1 provider."""
    return {section: {kind: {label: {**body, "provider": US_EAST_1} if section == "resource" else body
                             for label, body in named.items()} for kind, named in entries.items()}
            for section, entries in block.items()}


# -- the page people read -----------------------------------------------------------------


def alarms_markdown(env: EnvironmentPlan, document: Block) -> str:
    """`terraform/<env>/alarms.md`: every alarm of `document` (this module's output), who hears each topic, and
    what a human does once so that they do."""
    lines = [f"# {env.qualified_name}: CloudWatch alarms", "",
             "What only AWS sees, alarmed in `alarms.tf.json`. Each alarm sends ALARM and OK to one SNS topic: "
             "**pages** (an outage now) or **tickets** (trouble building up), routed like Alertmanager's "
             "pages and tickets.", "",
             "| alarm | metric | fires when | topic |", "|---|---|---|---|"]
    for body in document.get("resource", {}).get("aws_cloudwatch_metric_alarm", {}).values():
        metric = body.get("metric_name") or next(q["expression"] for q in body["metric_query"] if "expression" in q)
        topic = body["alarm_actions"][0].split(".")[1]
        lines.append(f"| `{body['alarm_name']}` | `{metric}` | {body['alarm_description'].split(' (')[0]} | {topic} |")
    lines += ["", "## Who hears them", ""]
    failover = FAILOVER.name in document.get("resource", {}).get("aws_sns_topic", {})
    routes = topic_receivers(env) + (failover_routes(env) if failover else [])
    for topic in (PAGES, TICKETS, FAILOVER) if failover else (PAGES, TICKETS):
        reached = [receiver for t, receiver in routes if t == topic]
        lines.append(f"- **{topic.name}** (output `{topic.name}_topic_arn`): "
                     + (", ".join(f"{r.name} ({_how(r)})" for r in reached) or "nobody: `monitoring."
                        f"{PAGES.name if topic == FAILOVER else topic.name}` names no receiver"))
    if failover:
        lines += ["", *_failover_section(env)]
    lines += ["", "## What a human does once", ""]
    steps = _steps(env, routes)
    lines += [f"{number}. {step}" for number, step in enumerate(steps, start=1)] if steps else \
        ["Nothing: no receiver of pages or tickets needs a step."]
    return "\n".join(lines) + "\n"


def _failover_section(env: EnvironmentPlan) -> list[str]:
    standby = env.recovery.standby
    assert standby is not None
    runbook = "../../docs/recovery/region-failover.md"  # the ops target writes it (targets/ops/recovery.py)
    return [
        "## When the failover page fires", "",
        f"`{name(env, 'origin', 'failover')}` (us-east-1, topic **failover**, which reaches whoever **pages** reaches) "
        f"means Route 53 answers `{origin_name(env)}` with the standby's load balancer in {standby.region}: no "
        "public service has had a healthy target here for minutes, or this region's CloudWatch stopped "
        "reporting. It lives in us-east-1 because Route 53 publishes its health checks' metrics only there, "
        + (f"so it pages while {env.region} is down too." if env.region != CLOUDFRONT_REGION else
           "which is this environment's own region: its loss silences this page too."), "",
        f"1. Which: `no-healthy-targets` pages of the same minutes for every public service while {env.region} "
        "answers (its console, `kubectl get nodes`): the services are down here (a release, the cluster), so fix "
        "them here; the standby serves only once it runs them. No such pages: the region is in trouble.",
        f"2. The region is lost: follow [the region failover runbook]({runbook}), section *{env.name}: to "
        f"{standby.region}*.",
        "3. The OK comes when this region's origin is healthy again, and Route 53 moves the public hosts back by "
        "itself. If the standby took writes (its database was restored there), keep this region's services "
        "scaled down until the data is moved back.",
    ]


def _how(receiver: ReceiverPlan) -> str:
    return {"email": f"e-mail to {receiver.to}", "pagerduty": "https, PagerDuty's CloudWatch integration",
            "webhook": "https", "slack": f"AWS Chatbot in {receiver.channel}, set up by hand"}[receiver.kind]


def _steps(env: EnvironmentPlan, routes: list[tuple[Resource, ReceiverPlan]]) -> list[str]:
    kinds = {receiver.kind for _, receiver in routes}
    steps = []
    if "email" in kinds:
        steps.append("After the first apply, each e-mail receiver gets a message from AWS Notifications: open its "
                     "*Confirm subscription* link, or nothing is delivered.")
    https = https_receivers(env)
    if https:
        example = env.alerting.receiver(https[0])
        secrets = example.secret.removesuffix(example.name)  # `<platform>/<env>/alerting/`
        steps.append(
            "For " + ", ".join(https) + ": store the HTTPS URL SNS must post to under the key `cloudwatch_url` of "
            f"the receiver's secret (`{example.secret}`), next to what Alertmanager reads. "
            "PagerDuty: add an *Amazon CloudWatch* integration to the service and use its integration URL "
            "(PagerDuty confirms the subscription itself). A webhook must accept SNS's JSON and confirm the "
            "subscription by fetching the `SubscribeURL` SNS first sends it.")
        names = " ".join(https)
        steps.append(
            f"Pass the URLs to every plan and apply as the sensitive variable `{ENDPOINTS}`. In CI, store the same "
            f"JSON as the secret `ALERT_ENDPOINTS` of the GitHub environment `{env.name}`: the apply job of "
            "infrastructure.yml exports it as `TF_VAR_alert_endpoints` (`{}` while unset). An apply without them "
            "removes the https subscriptions, which the plan shows (a pull request's plan, which cannot read the "
            "environment's secrets, shows them so). From the receivers' secrets:\n\n"
            "   ```sh\n"
            f"   export TF_VAR_{ENDPOINTS}=\"$(for receiver in {names}; do\n"
            f"     aws secretsmanager get-secret-value --secret-id \"{secrets}$receiver\" "
            "--query SecretString --output text |\n"
            "       jq -c --arg r \"$receiver\" 'if .cloudwatch_url then {($r): .cloudwatch_url} else {} end'\n"
            "   done | jq -cs 'add // {}')\"\n"
            "   ```")
    if "slack" in kinds:
        steps.append(
            "Slack: authorise the workspace once in the AWS Chatbot console (*Configure new client*, Slack), then "
            "create a Slack channel configuration for the channel with the topic ARNs above (outputs), the "
            "*Notification permissions* role and no write permissions. The topics are encrypted; the key's "
            "policy already lets Chatbot read them. bizinfra does not generate this: the authorisation has no API, "
            "and Chatbot's API answers in a few regions only.")
    return steps
