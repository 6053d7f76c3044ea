"""Recovery: the backups that run and the second region, derived from the environment's `recovery` objectives.

In the environment's own stack (`recovery.tf.json`): AWS Backup snapshots of the PostgreSQL databases on the spec's
schedule, kept `backups.keep` (RDS's own automated backups stop at 35 days; point-in-time recovery within them gives
the 5-minute RPO). With a second region, through the `aws.standby` provider: a KMS key there, the backup bucket and
every application bucket (`storage:`) replicated under it with S3 Replication Time Control (15 minutes), each
database's automated backups (snapshots and transaction logs) replicated, and the snapshots copied to a vault there.

The standby stack (`standby/`) is the pilot light in the second region: the network, the cluster (its node group at
zero unless the RTO is too short for a scale-up), and what a database restored there needs (subnet group, security
group, parameter group). It keeps its own state and names (`<platform>-<env>-standby-...`), since IAM roles and
buckets are global; the cluster keeps the environment's name, so after a failover every script's kubectl context
(named after the cluster) points at the standby.
"""

from __future__ import annotations

import dataclasses

from bizinfra.plan import LOAD_BALANCER_LOG_PREFIX, BucketPlan, EnvironmentPlan, StandbyPlan
from bizinfra.targets.terraform.addons import Addon, eks_addon
from bizinfra.targets.terraform.blocks import (
    Block,
    assume_role_policy,
    condition,
    iam_document,
    merge,
    name,
    output,
    policy_document,
    principal,
    resource,
    role_with_policies,
    stack_arn,
    statement,
    tags,
)
from bizinfra.targets.terraform.buckets import application_bucket, application_replica_bucket, private_bucket
from bizinfra.targets.terraform.cluster import access, control_plane, nodes, oidc_provider
from bizinfra.targets.terraform.datastores import backup_days, postgres_family
from bizinfra.targets.terraform.edge import standby_edge
from bizinfra.targets.terraform.handles import (
    ACCOUNT,
    BACKUP_BUCKET,
    CLUSTER,
    KMS_KEY,
    PRIVATE_SUBNETS,
    REPLICA_BUCKET,
    STANDBY_KEY,
    VPC,
    Data,
    Resource,
    addon,
    database,
    identity_role,
    store_group,
)
from bizinfra.targets.terraform.network import gateways, routes, security_groups, subnets, vpc
from bizinfra.targets.terraform.settings import kms_key, provider, terraform_block, variables
from bizinfra.targets.terraform.storage import bucket, bucket_document, tls_only

STANDBY = "aws.standby"  # the provider alias of the second region
STANDBY_LOGS = Resource("aws_s3_bucket", "standby_logs")
STANDBY_ELB_ACCOUNT = Data("aws_elb_service_account", "standby")
REPLICATION_ROLE = Resource("aws_iam_role", "replication")
VAULT = Resource("aws_backup_vault", "main")
STANDBY_VAULT = Resource("aws_backup_vault", "standby")
BACKUP_ROLE = Resource("aws_iam_role", "backup")
BACKUP_PLAN = Resource("aws_backup_plan", "databases")
BACKUP_POLICIES = ["service-role/AWSBackupServiceRolePolicyForBackup",
                   "service-role/AWSBackupServiceRolePolicyForRestores"]
# S3 Replication Time Control: 99.99% of objects within 15 minutes, its SLA and the only value it takes.
REPLICATION_MINUTES = 15
# AWS Backup starts a job within an hour of its scheduled time and gives it three to finish (a snapshot of the
# default 100 GiB takes minutes); a job not started in the window is marked missed, which its metrics show.
START_WINDOW_MINUTES = 60
COMPLETION_WINDOW_MINUTES = 180


def postgres_stores(env: EnvironmentPlan) -> list[str]:
    return [store.name for store in env.datastores if store.engine == "postgres"]


def recovery(env: EnvironmentPlan) -> Block:
    """The environment stack's part: database snapshots, and the replication to the standby region."""
    standby = env.recovery.standby
    parts = [snapshots(env)] if postgres_stores(env) else []
    if standby:
        parts += [standby_provider(env, standby), standby_key(env), replica_bucket(env, standby),
                  *[application_replica(env, plan) for plan in env.buckets],
                  replication(env, standby), database_backup_replication(env)]
    return merge(*parts)


def in_standby_region(block: Block) -> Block:
    """Every resource of a block, made through the standby region's provider."""
    return {section: {kind: {label: {**body, "provider": STANDBY} if section == "resource" else body
                             for label, body in named.items()} for kind, named in entries.items()}
            for section, entries in block.items()}


def snapshots(env: EnvironmentPlan) -> Block:
    """AWS Backup: a snapshot of every PostgreSQL instance on the spec's schedule, kept `backups.keep`, and copied to
    the standby region's vault when there is one."""
    standby = env.recovery.standby
    rule: Block = {
        "rule_name": "scheduled-snapshots",
        "target_vault_name": VAULT.ref("name"),
        "schedule": env.recovery.snapshot_schedule,
        "start_window": START_WINDOW_MINUTES,
        "completion_window": COMPLETION_WINDOW_MINUTES,
        "lifecycle": {"delete_after": env.backups.keep_days},
    }
    if standby:
        rule["copy_action"] = [{"destination_vault_arn": STANDBY_VAULT.ref("arn"),
                                "lifecycle": {"delete_after": env.backups.keep_days}}]
    trust = iam_document("backup_trust")
    parts = [
        assume_role_policy(trust, "backup.amazonaws.com"),
        role_with_policies(BACKUP_ROLE, env.recovery.backup_role, trust, BACKUP_POLICIES,
                           "AWS Backup: snapshots and restores of this environment's databases"),
        VAULT.declare({"name": env.recovery.vault, "kms_key_arn": KMS_KEY.ref("arn"), "tags": tags(env, "backups")}),
        BACKUP_PLAN.declare({"name": name(env, "databases"), "rule": [rule], "tags": tags(env, "backups")}),
        resource("aws_backup_selection", "databases", {
            "name": name(env, "databases", limit=50),
            "plan_id": BACKUP_PLAN.ref("id"),
            "iam_role_arn": BACKUP_ROLE.ref("arn"),
            "resources": [database(store).ref("arn") for store in postgres_stores(env)],
        }),
        output("backup_vault", VAULT.ref("name"), "The AWS Backup vault of the database snapshots."),
    ]
    if standby:
        parts.append(in_standby_region(STANDBY_VAULT.declare({
            "name": env.recovery.vault, "kms_key_arn": STANDBY_KEY.ref("arn"), "tags": tags(env, "backups")})))
    return merge(*parts)


def standby_provider(env: EnvironmentPlan, standby: StandbyPlan) -> Block:
    default = provider(env)["provider"]["aws"]
    return {"provider": {"aws": {**default, "alias": "standby", "region": standby.region}}}


def standby_key(env: EnvironmentPlan) -> Block:
    """The key the replicas are encrypted with in the standby region (a key never leaves its region)."""
    policy = iam_document("kms_standby")
    account = ACCOUNT.ref("account_id")
    return merge(
        policy_document(policy, [statement(["kms:*"], ["*"], sid="AccountAdministers",
                                           principals=[principal("AWS", stack_arn("iam", "root", account=account))])]),
        in_standby_region(merge(
            STANDBY_KEY.declare({
                "description": f"{env.qualified_name}: backups replicated to the standby region",
                "enable_key_rotation": True,
                "deletion_window_in_days": 30,
                "policy": policy.ref("json"),
            }),
            # `-replicas`: the standby stack's own key, in the same region, is `alias/<platform>-<env>-standby`.
            resource("aws_kms_alias", "standby", {"name": f"alias/{env.qualified_name}-replicas",
                                                 "target_key_id": STANDBY_KEY.ref("key_id")}),
        )),
        output("standby_kms_key_arn", STANDBY_KEY.ref("arn"), "The key of the replicas in the standby region."),
    )


def replica_bucket(env: EnvironmentPlan, standby: StandbyPlan) -> Block:
    """Like the backup bucket (private, versioned, TLS only, expiring after `backups.keep`), in the standby region."""
    return merge(
        in_standby_region(bucket(env, REPLICA_BUCKET, standby.bucket, {
            "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                        "kms_master_key_id": STANDBY_KEY.ref("arn")},
            "bucket_key_enabled": True,
        }, env.backups.keep_days, {})),
        policy_document(bucket_document(REPLICA_BUCKET), [tls_only(REPLICA_BUCKET)]),
        in_standby_region(resource("aws_s3_bucket_logging", "backups_replica", {
            "bucket": REPLICA_BUCKET.ref("id"),
            "target_bucket": STANDBY_LOGS.ref("id"),
            "target_prefix": "s3-access/backups-replica/",
        })),
        standby_log_bucket(env, standby),
        output("standby_backup_bucket", REPLICA_BUCKET.ref("id"),
               "The backup bucket's replica in the standby region: what Velero restores from there."),
    )


def application_replica(env: EnvironmentPlan, plan: BucketPlan) -> Block:
    """Like the application bucket (private, versioned, TLS only, the spec's lifecycle), under the replicas' key."""
    assert plan.replica is not None  # the plan names a replica wherever the environment names a second region
    handle = application_replica_bucket(plan.name)
    return merge(
        in_standby_region(private_bucket(env, plan, handle, plan.replica, STANDBY_KEY, STANDBY_LOGS)),
        output(f"standby_{application_bucket(plan.name).name}_bucket", handle.ref("id"),
               f"Bucket {plan.name}'s replica in the standby region: what its users read there after a failover."),
    )


def standby_log_bucket(env: EnvironmentPlan, standby: StandbyPlan) -> Block:
    """The standby region's log bucket: the replica's access logs and the standby network's flow logs (which the
    standby stack writes here by name). SSE-S3, as the main log bucket, for the load balancer a failover adds."""
    logs = STANDBY_LOGS.ref("arn")
    account = ACCOUNT.ref("account_id")
    delivery = principal("Service", "delivery.logs.amazonaws.com")
    own_account = condition("StringEquals", "aws:SourceAccount", [account])
    load_balancer_logs = f"{logs}/{LOAD_BALANCER_LOG_PREFIX}/AWSLogs/{account}/*"
    return merge(
        in_standby_region(bucket(env, STANDBY_LOGS, standby.log_bucket,
                                 {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}},
                                 "${var.log_retention_days}", {})),
        policy_document(bucket_document(STANDBY_LOGS), [
            tls_only(STANDBY_LOGS),
            statement(["s3:PutObject"], [f"{logs}/vpc-flow-logs/AWSLogs/{account}/*"], sid="FlowLogsWrite",
                      principals=[delivery], conditions=[
                          own_account, condition("StringEquals", "s3:x-amz-acl", ["bucket-owner-full-control"])]),
            statement(["s3:GetBucketAcl", "s3:ListBucket"], [logs], sid="FlowLogsCheck", principals=[delivery],
                      conditions=[own_account]),
            statement(["s3:PutObject"], [f"{logs}/s3-access/*"], sid="ServerAccessLogs",
                      principals=[principal("Service", "logging.s3.amazonaws.com")], conditions=[own_account]),
            # The standby's load balancer (standby stack): as the main log bucket's, by the region's ELB account in
            # regions older than August 2022, by the service in newer ones.
            statement(["s3:PutObject"], [load_balancer_logs], sid="LoadBalancerAccessLogs",
                      principals=[principal("AWS", STANDBY_ELB_ACCOUNT.ref("arn"))]),
            statement(["s3:PutObject"], [load_balancer_logs], sid="LoadBalancerAccessLogsService",
                      principals=[principal("Service", "logdelivery.elasticloadbalancing.amazonaws.com")]),
        ]),
        STANDBY_ELB_ACCOUNT.declare({"provider": STANDBY}),
    )


def replicated_buckets(env: EnvironmentPlan) -> list[tuple[str, Resource, Resource]]:
    """(the configuration's label, the bucket, its replica): the backup bucket and every application bucket."""
    return [("backups", BACKUP_BUCKET, REPLICA_BUCKET)] + [
        (application_bucket(plan.name).name, application_bucket(plan.name), application_replica_bucket(plan.name))
        for plan in env.buckets]


def replication(env: EnvironmentPlan, standby: StandbyPlan) -> Block:
    """S3 replicates every object of the backup bucket and the application buckets, deletions included, within
    Replication Time Control's 15 minutes, re-encrypted under the standby key; one role for them all."""
    trust, permissions = iam_document("replication_trust"), iam_document("replication")
    pairs = replicated_buckets(env)
    sources = [source.ref("arn") for _, source, _ in pairs]
    replicas = [replica.ref("arn") for _, _, replica in pairs]
    return merge(
        assume_role_policy(trust, "s3.amazonaws.com"),
        policy_document(permissions, [
            statement(["s3:GetReplicationConfiguration", "s3:ListBucket"], sources, sid="ReadConfiguration"),
            statement(["s3:GetObjectVersionAcl", "s3:GetObjectVersionForReplication", "s3:GetObjectVersionTagging"],
                      [f"{source}/*" for source in sources], sid="ReadVersions"),
            statement(["s3:ReplicateDelete", "s3:ReplicateObject", "s3:ReplicateTags"],
                      [f"{replica}/*" for replica in replicas], sid="WriteReplicas"),
            statement(["kms:Decrypt"], [KMS_KEY.ref("arn")], sid="DecryptSource"),
            statement(["kms:Encrypt", "kms:GenerateDataKey"], [STANDBY_KEY.ref("arn")], sid="EncryptReplicas"),
        ]),
        REPLICATION_ROLE.declare({
            "name": standby.replication_role,
            "description": f"S3 replication of {env.qualified_name}'s buckets to {standby.region}",
            "assume_role_policy": trust.ref("json"),
        }),
        resource("aws_iam_role_policy", "replication", {
            "name": "replicate-buckets", "role": REPLICATION_ROLE.ref("id"), "policy": permissions.ref("json")}),
        *[replication_configuration(label, source, replica) for label, source, replica in pairs],
    )


def replication_configuration(label: str, source: Resource, replica: Resource) -> Block:
    return resource("aws_s3_bucket_replication_configuration", label, {
        "bucket": source.ref("id"),
        "role": REPLICATION_ROLE.ref("arn"),
        "rule": [{
            "id": "to-standby",
            "status": "Enabled",
            "filter": {},
            "delete_marker_replication": {"status": "Enabled"},
            "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
            "destination": {
                "bucket": replica.ref("arn"),
                "storage_class": "STANDARD",
                "encryption_configuration": {"replica_kms_key_id": STANDBY_KEY.ref("arn")},
                "replication_time": {"status": "Enabled", "time": {"minutes": REPLICATION_MINUTES}},
                "metrics": {"status": "Enabled", "event_threshold": {"minutes": REPLICATION_MINUTES}},
            },
        }],
        # Both buckets must be versioned before S3 accepts the configuration.
        "depends_on": [f"aws_s3_bucket_versioning.{source.name}", f"aws_s3_bucket_versioning.{replica.name}"],
    })


def database_backup_replication(env: EnvironmentPlan) -> Block:
    """Each PostgreSQL instance's automated backups, snapshots and transaction logs, copied to the standby region as
    they are made: point-in-time recovery there, for as long as here."""
    return in_standby_region(merge(*[
        resource("aws_db_instance_automated_backups_replication", store, {
            "source_db_instance_arn": database(store).ref("arn"),
            "kms_key_id": STANDBY_KEY.ref("arn"),
            "retention_period": backup_days(env),
        }) for store in postgres_stores(env)]))


# -- the standby stack ----------------------------------------------------------------------------------------------

STANDBY_VARIABLES = ("kubernetes_version", "cluster_admin_arns", "log_retention_days")


def standby_environment(env: EnvironmentPlan, standby: StandbyPlan) -> EnvironmentPlan:
    """The environment as the standby stack builds it: its region, its own names and state, its node count."""
    return dataclasses.replace(env, name=standby.name, region=standby.region, partition=standby.partition,
                               nodes=standby.nodes, edge=dataclasses.replace(env.edge, log_bucket=standby.log_bucket,
                                                                             creates_zone=False))


def standby_files(env: EnvironmentPlan) -> dict[str, Block]:
    """`terraform/<env>/standby/`'s files by name, or none when the spec names no second region. As in the
    environment's own folder, a concern with nothing to declare gets no file (restore.tf.json without a PostgreSQL
    store): a file holding only the generated-by comment is one checkov cannot parse."""
    standby = env.recovery.standby
    if standby is None:
        return {}
    site = standby_environment(env, standby)
    files = {
        # Its own state object in the platform's state bucket, which stays in the main region.
        "versions.tf.json": terraform_block(env.deploy.state_bucket, standby.state_key, env.region),
        "main.tf.json": merge(provider(site), kms_key(site), {"locals": {
            "public_subnet_cidrs": list(site.network.public_subnets),
            "private_subnet_cidrs": list(site.network.private_subnets)}}),
        "network.tf.json": merge(vpc(site), subnets(site), gateways(site), routes(site), flow_logs(site, standby),
                                 security_groups(site)),
        "eks.tf.json": merge(control_plane(site), access(site), nodes(site), oidc_provider(), identities(env, site)),
        "restore.tf.json": restore_path(site),
        "public.tf.json": merge(standby_edge(env, site, standby.log_bucket)),
        "variables.tf.json": {"variable": {key: value for key, value in variables(site, 0)["variable"].items()
                                           if key in STANDBY_VARIABLES}},
        "outputs.tf.json": standby_outputs(site),
    }
    return {file: document for file, document in files.items() if document}


def identities(env: EnvironmentPlan, site: EnvironmentPlan) -> Block:
    """The environment's workload roles on the same ServiceAccounts of the standby cluster, with the Pod Identity
    agent that hands them out. IAM is global and the roles grant the replicas here (secrets, buckets, backups), so
    after a failover every pod calls AWS as it did. The EKS add-ons with roles of their own (EBS CSI, CloudWatch)
    are not here: like the Helm add-ons, the runbook's failover installs them."""
    agent = Addon("eks-pod-identity-agent")
    workloads = [*env.identities, *(bootstrap.identity for bootstrap in env.database_bootstraps),
                 *(service.identity for service in env.services if service.identity)]
    account = ACCOUNT.ref("account_id")
    return merge(eks_addon(site, agent), *[
        resource("aws_eks_pod_identity_association", identity_role(identity.name).name, {
            "cluster_name": CLUSTER.ref("name"),
            "namespace": identity.namespace,
            "service_account": identity.service_account,
            "role_arn": stack_arn("iam", f"role/{identity.role_name}", account=account),
            "depends_on": [addon(agent.name).address],
        }) for identity in workloads])


def flow_logs(site: EnvironmentPlan, standby: StandbyPlan) -> Block:
    """To the standby log bucket the environment's stack made in this region (apply that stack first)."""
    return resource("aws_flow_log", "main", {
        "vpc_id": VPC.ref("id"),
        "traffic_type": "ALL",
        "log_destination_type": "s3",
        "log_destination": f"{stack_arn('s3', standby.log_bucket)}/vpc-flow-logs/",
        "tags": tags(site, "flow-logs"),
    })


def restore_path(site: EnvironmentPlan) -> Block:
    """What `aws rds restore-db-instance-to-point-in-time` names to bring each PostgreSQL store up here from its
    replicated backups (docs/recovery/region-failover.md): subnets, the parameters, the nodes-only security group."""
    parts = []
    for store in site.datastores:
        if store.engine != "postgres":
            continue
        parts += [
            resource("aws_db_subnet_group", store.name, {
                "name": store.identifier,
                "description": f"{store.name}: the standby's private subnets",
                "subnet_ids": PRIVATE_SUBNETS.ref("[*].id"),
                "tags": tags(site, store.name),
            }),
            resource("aws_db_parameter_group", store.name, {
                "name": store.identifier,
                "family": postgres_family(store.version),
                "description": f"{store.name}: TLS only, slow queries and connections logged",
                "parameter": [{"name": "log_connections", "value": "1"},
                              {"name": "log_min_duration_statement", "value": "1000"},
                              {"name": "rds.force_ssl", "value": "1"}],
                "tags": tags(site, store.name),
            }),
        ]
    return merge(*parts)


def standby_outputs(site: EnvironmentPlan) -> Block:
    parts = [
        output("cluster_name", CLUSTER.ref("name"), "The standby EKS cluster (aws eks update-kubeconfig)."),
        output("vpc_id", VPC.ref("id"), "The standby VPC."),
        output("kms_key_arn", KMS_KEY.ref("arn"), "The key encrypting the standby's data at rest."),
    ]
    for store in site.datastores:
        parts.append(output(f"{store.name.replace('-', '_')}_security_group_id", store_group(store.name).ref("id"),
                            f"The security group a restored {store.name} takes: the standby's nodes only."))
    return merge(*parts)
