"""The stack's frame: Terraform and provider versions, the state backend, variables, shared lookups and outputs."""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

from bizinfra.cost import NoPriceTable, estimate, load_prices
from bizinfra.naming import LOG_RETENTION_DAYS
from bizinfra.plan import MANAGED_BY, EnvironmentPlan
from bizinfra.targets.terraform.blocks import Block, iam_document, merge, output, ref, resource, stack_arn, variable
from bizinfra.targets.terraform.handles import (
    ACCOUNT,
    BACKUP_BUCKET,
    CLUSTER,
    IRSA_PROVIDER,
    KMS_KEY,
    LOAD_BALANCER_GROUP,
    LOG_BUCKET,
    PARTITION,
    PRIVATE_SUBNETS,
    PUBLIC_SUBNETS,
    REGIONAL_CERTIFICATE,
    VPC,
    identity_role,
)

# 1.10 brought S3-native state locking (`use_lockfile`); 1.11 is what the offline test machine runs.
TERRAFORM_VERSION = ">= 1.10"
# The hashicorp/aws versions the tests judge the output against, and how. One fact: the stacks' constraint, the
# offline schema checker (validate/terraform.py) and the tests all read this table.
AWS_PROVIDER_VERSIONS = {
    "5.100.0": "pinned: the vendored schema, `terraform validate` and an apply against an AWS API emulator",
    "6.47.0": "the vendored schema only: the next major, checked so that moving to it is a change of the pin",
}
# A constraint cannot say "5.100.0 or 6.47.0" (its commas are all "and"), and a range would admit every 6.x
# release between them, which no test ran; so the stacks pin the one version every judge runs.
AWS_PROVIDER_PINNED = "5.100.0"
AWS_PROVIDER_VERSION = f"= {AWS_PROVIDER_PINNED}"
# Amazon EKS release calendar: 1.34 is in standard support through late 2026 (docs.aws.amazon.com/eks,
# "Understand the Kubernetes version lifecycle on EKS"); older versions cost extra in extended support.
KUBERNETES_VERSION = "1.34"


def versions(env: EnvironmentPlan) -> Block:
    """The `terraform` block alone: checkov cannot parse a file that holds it next to anything else."""
    return terraform_block(env.deploy.state_bucket, env.deploy.state_key, env.region)


def terraform_block(bucket: str, key: str, region: str) -> Block:
    """Versions and a complete S3 backend, so `terraform init` needs no flags: the bucket the bootstrap stack makes,
    locked by a lock object beside the state (`use_lockfile`, Terraform 1.10), so no DynamoDB table."""
    return {"terraform": {
        "required_version": TERRAFORM_VERSION,
        "required_providers": {"aws": {"source": "hashicorp/aws", "version": AWS_PROVIDER_VERSION}},
        "backend": {"s3": {"bucket": bucket, "key": key, "region": region, "encrypt": True, "use_lockfile": True}},
    }}


def provider(env: EnvironmentPlan) -> Block:
    return merge(
        {"provider": {"aws": {"region": env.region, "default_tags": {"tags": {
            "Platform": env.platform,
            "Environment": env.name,
            "ManagedBy": MANAGED_BY,
            "Spec": env.source,
        }}}}},
        ACCOUNT.declare({}),
        PARTITION.declare({}),
    )


# The seed's cost table (staging about $150 a month, production $500 to $800): the budget where no bundled price
# table covers the region. Where one does, the budget is the cost report's own estimate with every node group at its
# maximum, plus a quarter, rounded up to $50: spending what the report expects never alerts, growing past it does.
MONTHLY_BUDGET_USD = {True: 800, False: 150}
BUDGET_HEADROOM = Decimal("1.25")
BUDGET_STEP = 50


def monthly_budget(env: EnvironmentPlan, documents: Iterable[Block]) -> int:
    """The budget's default for a stack of these documents (a budget itself costs nothing to estimate)."""
    try:
        prices = load_prices(env.region)
    except NoPriceTable:
        return MONTHLY_BUDGET_USD[env.production]
    expected = estimate(documents, prices).total_at_most * BUDGET_HEADROOM
    return math.ceil(expected / BUDGET_STEP) * BUDGET_STEP


def variables(env: EnvironmentPlan, budget_usd: int) -> Block:
    return merge(
        variable("kubernetes_version", "string", "The EKS Kubernetes version (major.minor). The EKS add-on versions "
                 "(addons.tf.json) are pinned for this default: move both together.", KUBERNETES_VERSION),
        variable("cluster_admin_arns", "list(string)",
                 "IAM users or roles granted cluster-admin through EKS access entries, besides whoever creates "
                 "the cluster.", []),
        variable("log_retention_days", "number",
                 "How long CloudWatch keeps control plane logs and the log bucket keeps access and flow logs.", 365,
                 validation={"condition": f"${{contains({LOG_RETENTION_DAYS}, var.log_retention_days)}}",
                             "error_message": "Use a retention CloudWatch Logs accepts, e.g. 90, 365 or 731."}),
        variable("monthly_budget_usd", "number", "Monthly cost, in USD, above which the budget alerts.", budget_usd),
        variable("budget_alert_emails", "list(string)",
                 "Who hears when the month's cost passes 80% of the budget or is forecast to pass it; "
                 "no budget is created while this is empty.", []),
    )


def budget(env: EnvironmentPlan) -> Block:
    """A monthly cost budget over this environment's resources, found by the Environment tag (activate it as a
    cost allocation tag in the billing console, or the budget sees nothing)."""
    def notification(kind: str, percent: int) -> Block:
        return {"comparison_operator": "GREATER_THAN", "threshold": percent, "threshold_type": "PERCENTAGE",
                "notification_type": kind, "subscriber_email_addresses": ref("var.budget_alert_emails")}

    return resource("aws_budgets_budget", "monthly", {
        "count": ref("length(var.budget_alert_emails) > 0 ? 1 : 0"),
        "name": env.qualified_name,
        "budget_type": "COST",
        "limit_amount": ref("tostring(var.monthly_budget_usd)"),
        "limit_unit": "USD",
        "time_unit": "MONTHLY",
        "cost_filter": [{"name": "TagKeyValue", "values": [f"user:Environment${env.name}"]}],
        "notification": [notification("ACTUAL", 80), notification("FORECASTED", 100)],
    })


def alarm_topics_grant() -> Block:
    """The key-policy statement of a key encrypting alarm topics: CloudWatch must encrypt what it publishes to them,
    and AWS Chatbot, if a human subscribes it (alarms.md), read it (SNS developer guide, "Enable compatibility
    between event sources from AWS services and encrypted topics")."""
    return {"sid": "AlarmsPublishToEncryptedTopics", "effect": "Allow",
            "actions": ["kms:Decrypt", "kms:GenerateDataKey*"], "resources": ["*"],
            "principals": [{"type": "Service", "identifiers": ["chatbot.amazonaws.com", "cloudwatch.amazonaws.com"]}]}


def kms_key(env: EnvironmentPlan) -> Block:
    """One customer managed key for the environment's data at rest: Kubernetes secrets, databases, caches,
    Secrets Manager, backups and logs. CloudWatch Logs may use it only for this account's log groups."""
    account = ACCOUNT.ref("account_id")
    policy = iam_document("kms")
    return merge(
        policy.declare({"statement": [
            {"sid": "AccountAdministers", "effect": "Allow", "actions": ["kms:*"], "resources": ["*"],
             "principals": [{"type": "AWS", "identifiers": [stack_arn("iam", "root", account=account)]}]},
            {"sid": "CloudWatchLogsEncrypts", "effect": "Allow",
             "actions": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
             "resources": ["*"],
             "principals": [{"type": "Service", "identifiers": [f"logs.{env.region}.amazonaws.com"]}],
             "condition": [{"test": "ArnLike", "variable": "kms:EncryptionContext:aws:logs:arn",
                            "values": [stack_arn("logs", "*", region=env.region, account=account)]}]},
            alarm_topics_grant(),
        ]}),
        KMS_KEY.declare({
            "description": f"{env.qualified_name}: data at rest",
            "enable_key_rotation": True,
            # A key scheduled for deletion can be restored within the window: the longest in production, the
            # shortest KMS allows elsewhere, where nothing outlives the stack.
            "deletion_window_in_days": 30 if env.production else 7,
            "policy": policy.ref("json"),
        }),
        resource("aws_kms_alias", "main", {"name": f"alias/{env.qualified_name}",
                                           "target_key_id": KMS_KEY.ref("key_id")}),
    )


def outputs(env: EnvironmentPlan) -> Block:
    parts = [
        output("cluster_name", CLUSTER.ref("name"), "The EKS cluster's name (aws eks update-kubeconfig)."),
        output("cluster_endpoint", CLUSTER.ref("endpoint"), "The Kubernetes API endpoint."),
        output("cluster_certificate_authority", CLUSTER.ref("certificate_authority[0].data"),
               "The cluster CA certificate, base64."),
        output("oidc_provider_arn", IRSA_PROVIDER.ref("arn"),
               "The IAM OIDC provider for IRSA, for workloads that cannot use EKS Pod Identity."),
        output("vpc_id", VPC.ref("id"), "The VPC."),
        output("private_subnet_ids", PRIVATE_SUBNETS.ref("[*].id"), "Subnets of the nodes and data stores."),
        output("public_subnet_ids", PUBLIC_SUBNETS.ref("[*].id"), "Subnets of the public load balancer."),
        output("load_balancer_security_group_id", LOAD_BALANCER_GROUP.ref("id"),
               f"The public load balancer's security group (Name tag {env.edge.load_balancer_security_group})."),
        output("kms_key_arn", KMS_KEY.ref("arn"), "The key encrypting this environment's data at rest."),
        output("backup_bucket", BACKUP_BUCKET.ref("id"), "Velero backups and database dumps."),
        output("log_bucket", LOG_BUCKET.ref("id"), "Load balancer, CloudFront, VPC flow and S3 access logs."),
    ]
    if any(service.public_host for service in env.services):
        parts.append(output("certificate_arn", REGIONAL_CERTIFICATE.ref("certificate_arn"),
                            "The validated regional certificate of the public hosts, on the load balancer's listener."))
    for identity in [*env.identities, *(bootstrap.identity for bootstrap in env.database_bootstraps)]:
        role = identity_role(identity.name)
        parts.append(output(f"{role.name}_role_arn", role.ref("arn"),
                            f"The IAM role of {identity.namespace}/{identity.service_account}."))
    return merge(*parts)
