"""CloudWatch Logs for the cluster's containers: the groups Fluent Bit writes to, created here so that they expire
after the spec's `logs.keep` and are encrypted with the environment's key (Fluent Bit would create them with
neither), and a saved Logs Insights query per service."""

from __future__ import annotations

from bizinfra.plan import EnvironmentPlan
from bizinfra.targets.terraform.blocks import Block, merge, resource
from bizinfra.targets.terraform.handles import KMS_KEY, container_logs


def logs(env: EnvironmentPlan) -> Block:
    return merge(log_groups(env), saved_queries(env))


def log_groups(env: EnvironmentPlan) -> Block:
    return merge(*(container_logs(kind).declare({
        "name": group,
        "retention_in_days": env.logs.retention_days,
        "kms_key_id": KMS_KEY.ref("arn"),
    }) for kind, group in env.logs.groups.items()))


def saved_queries(env: EnvironmentPlan) -> Block:
    application = container_logs("application")
    return merge(*(resource("aws_cloudwatch_query_definition", query.service.replace("-", "_"), {
        "name": query.name,
        "query_string": query.query,
        "log_group_names": [application.ref("name")],
    }) for query in env.logs.queries))
