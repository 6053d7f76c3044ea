"""S3: the backup bucket (Velero, database dumps) and the log bucket (load balancer access logs, VPC flow logs)."""

from __future__ import annotations

from bizinfra.plan import LOAD_BALANCER_LOG_PREFIX, EnvironmentPlan
from bizinfra.targets.terraform.blocks import (
    Block,
    condition,
    iam_document,
    merge,
    policy_document,
    principal,
    ref,
    statement,
)
from bizinfra.targets.terraform.handles import (
    ACCOUNT,
    BACKUP_BUCKET,
    KMS_KEY,
    LOG_BUCKET,
    Data,
    Resource,
    bucket_policy,
)

ACCOUNT_ID = ACCOUNT.ref("account_id")
ELB_ACCOUNT = Data("aws_elb_service_account", "current")
INCOMPLETE_UPLOAD_DAYS = 7


def storage(env: EnvironmentPlan) -> Block:
    return merge(backup_bucket(env), log_bucket(env))


def bucket(env: EnvironmentPlan, handle: Resource, bucket_name: str, encryption: Block, expire_days: str | int,
           policy: Block, ownership: str = "BucketOwnerEnforced") -> Block:
    """A private, versioned, encrypted bucket whose objects expire, readable only over TLS; its settings are
    resources labelled like the bucket, and its policy is the document `<label>_bucket`. Outside production a
    destroy empties it first (`force_destroy`), so a stack that comes and goes leaves nothing behind; production's
    backups and logs outlive a mistaken destroy."""
    key, bucket_id = handle.name, handle.ref("id")
    public_access = Resource("aws_s3_bucket_public_access_block", key)
    versioning = Resource("aws_s3_bucket_versioning", key)
    return merge(
        handle.declare({"bucket": bucket_name, "force_destroy": not env.production, "tags": {"Name": bucket_name}}),
        Resource("aws_s3_bucket_ownership_controls", key).declare({
            "bucket": bucket_id, "rule": {"object_ownership": ownership}}),
        public_access.declare({
            "bucket": bucket_id, "block_public_acls": True, "block_public_policy": True,
            "ignore_public_acls": True, "restrict_public_buckets": True}),
        versioning.declare({
            "bucket": bucket_id, "versioning_configuration": {"status": "Enabled"}}),
        Resource("aws_s3_bucket_server_side_encryption_configuration", key).declare({
            "bucket": bucket_id, "rule": [encryption]}),
        Resource("aws_s3_bucket_lifecycle_configuration", key).declare({
            "bucket": bucket_id,
            "rule": [{
                "id": "expire",
                "status": "Enabled",
                "filter": {},
                "expiration": {"days": expire_days},
                "noncurrent_version_expiration": {"noncurrent_days": 1},
                "abort_incomplete_multipart_upload": {"days_after_initiation": INCOMPLETE_UPLOAD_DAYS},
            }],
            "depends_on": [versioning.address],
        }),
        policy,
        bucket_policy(handle).declare({
            "bucket": bucket_id,
            "policy": bucket_document(handle).ref("json"),
            "depends_on": [public_access.address],
        }),
    )


def bucket_document(handle: Resource) -> Data:
    return iam_document(f"{handle.name}_bucket")


def tls_only(handle: Resource) -> Block:
    return statement(["s3:*"], [handle.ref("arn"), f"{handle.ref('arn')}/*"],
                     sid="TlsOnly", effect="Deny", principals=[principal("*", "*")],
                     conditions=[condition("Bool", "aws:SecureTransport", ["false"])])


def backup_bucket(env: EnvironmentPlan) -> Block:
    """Backups expire after the spec's retention (backups.keep)."""
    return merge(
        bucket(env, BACKUP_BUCKET, env.backups.bucket, {
            "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                        "kms_master_key_id": KMS_KEY.ref("arn")},
            "bucket_key_enabled": True,
        }, env.backups.keep_days, policy_document(bucket_document(BACKUP_BUCKET), [tls_only(BACKUP_BUCKET)])),
        Resource("aws_s3_bucket_logging", "backups").declare({
            "bucket": BACKUP_BUCKET.ref("id"),
            "target_bucket": LOG_BUCKET.ref("id"),
            "target_prefix": "s3-access/backups/",
            # S3 refuses the setting until the log bucket's policy lets its logging service write there.
            "depends_on": [bucket_policy(LOG_BUCKET).address],
        }),
    )


def log_bucket(env: EnvironmentPlan) -> Block:
    """SSE-S3, not KMS: load balancer access logs can only be delivered to SSE-S3 buckets. Load balancer, CDN,
    flow and S3 access logs."""
    logs = LOG_BUCKET.ref("arn")
    delivery = principal("Service", "delivery.logs.amazonaws.com")
    load_balancer_logs = f"{logs}/{LOAD_BALANCER_LOG_PREFIX}/AWSLogs/{ACCOUNT_ID}/*"
    return bucket(env, LOG_BUCKET, env.edge.log_bucket, {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}},
                  ref("var.log_retention_days"), merge(
        ELB_ACCOUNT.declare({}),
        policy_document(bucket_document(LOG_BUCKET), [
            tls_only(LOG_BUCKET),
            # Regions older than August 2022 deliver as the region's ELB account, newer ones as the service.
            statement(["s3:PutObject"], [load_balancer_logs], sid="LoadBalancerAccessLogs",
                      principals=[principal("AWS", ELB_ACCOUNT.ref("arn"))]),
            statement(["s3:PutObject"], [load_balancer_logs], sid="LoadBalancerAccessLogsService",
                      principals=[principal("Service", "logdelivery.elasticloadbalancing.amazonaws.com")]),
            statement(["s3:PutObject"], [f"{logs}/vpc-flow-logs/AWSLogs/{ACCOUNT_ID}/*"], sid="FlowLogsWrite",
                      principals=[delivery], conditions=[
                          condition("StringEquals", "aws:SourceAccount", [ACCOUNT_ID]),
                          condition("StringEquals", "s3:x-amz-acl", ["bucket-owner-full-control"])]),
            statement(["s3:GetBucketAcl", "s3:ListBucket"], [logs], sid="FlowLogsCheck", principals=[delivery],
                      conditions=[condition("StringEquals", "aws:SourceAccount", [ACCOUNT_ID])]),
            statement(["s3:PutObject"], [f"{logs}/s3-access/*"], sid="ServerAccessLogs",
                      principals=[principal("Service", "logging.s3.amazonaws.com")],
                      conditions=[condition("StringEquals", "aws:SourceAccount", [ACCOUNT_ID])]),
        ]),
        # CloudFront's standard logs are written with an ACL granting the bucket owner control: the bucket must
        # accept ACLs (CloudFront developer guide, "Configure standard logging"); the owner still owns every object.
    ), ownership="BucketOwnerPreferred")
