"""S3: the backup bucket (Velero, database dumps) and the log bucket (load balancer access logs, VPC flow logs)."""

from __future__ import annotations

from bizinfra.plan import LOAD_BALANCER_LOG_PREFIX, EnvironmentPlan
from bizinfra.targets.terraform.blocks import (
    Block,
    condition,
    data,
    merge,
    policy_document,
    principal,
    ref,
    resource,
    statement,
)

ACCOUNT = ref("data.aws_caller_identity.current.account_id")
INCOMPLETE_UPLOAD_DAYS = 7


def storage(env: EnvironmentPlan) -> Block:
    return merge(backup_bucket(env), log_bucket(env))


def bucket(key: str, bucket_name: str, encryption: Block, expire_days: str | int, policy: Block,
           ownership: str = "BucketOwnerEnforced") -> Block:
    """A private, versioned, encrypted bucket whose objects expire, readable only over TLS."""
    bucket_id = ref(f"aws_s3_bucket.{key}.id")
    return merge(
        resource("aws_s3_bucket", key, {"bucket": bucket_name, "tags": {"Name": bucket_name}}),
        resource("aws_s3_bucket_ownership_controls", key, {
            "bucket": bucket_id, "rule": {"object_ownership": ownership}}),
        resource("aws_s3_bucket_public_access_block", key, {
            "bucket": bucket_id, "block_public_acls": True, "block_public_policy": True,
            "ignore_public_acls": True, "restrict_public_buckets": True}),
        resource("aws_s3_bucket_versioning", key, {
            "bucket": bucket_id, "versioning_configuration": {"status": "Enabled"}}),
        resource("aws_s3_bucket_server_side_encryption_configuration", key, {
            "bucket": bucket_id, "rule": [encryption]}),
        resource("aws_s3_bucket_lifecycle_configuration", key, {
            "bucket": bucket_id,
            "rule": [{
                "id": "expire",
                "status": "Enabled",
                "filter": {},
                "expiration": {"days": expire_days},
                "noncurrent_version_expiration": {"noncurrent_days": 1},
                "abort_incomplete_multipart_upload": {"days_after_initiation": INCOMPLETE_UPLOAD_DAYS},
            }],
            "depends_on": [f"aws_s3_bucket_versioning.{key}"],
        }),
        policy,
        resource("aws_s3_bucket_policy", key, {
            "bucket": bucket_id,
            "policy": ref(f"data.aws_iam_policy_document.{key}_bucket.json"),
            "depends_on": [f"aws_s3_bucket_public_access_block.{key}"],
        }),
    )


def tls_only(key: str) -> Block:
    return statement(["s3:*"], [ref(f"aws_s3_bucket.{key}.arn"), f"{ref(f'aws_s3_bucket.{key}.arn')}/*"],
                     sid="TlsOnly", effect="Deny", principals=[principal("*", "*")],
                     conditions=[condition("Bool", "aws:SecureTransport", ["false"])])


def backup_bucket(env: EnvironmentPlan) -> Block:
    """Backups expire after the spec's retention (backups.keep)."""
    return merge(
        bucket("backups", env.backup_bucket, {
            "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                        "kms_master_key_id": ref("aws_kms_key.main.arn")},
            "bucket_key_enabled": True,
        }, env.backup_keep_days, policy_document("backups_bucket", [tls_only("backups")])),
        resource("aws_s3_bucket_logging", "backups", {
            "bucket": ref("aws_s3_bucket.backups.id"),
            "target_bucket": ref("aws_s3_bucket.logs.id"),
            "target_prefix": "s3-access/backups/",
        }),
    )


def log_bucket(env: EnvironmentPlan) -> Block:
    """SSE-S3, not KMS: load balancer access logs can only be delivered to SSE-S3 buckets. Load balancer, CDN,
    flow and S3 access logs."""
    logs = ref("aws_s3_bucket.logs.arn")
    delivery = principal("Service", "delivery.logs.amazonaws.com")
    load_balancer_logs = f"{logs}/{LOAD_BALANCER_LOG_PREFIX}/AWSLogs/{ACCOUNT}/*"
    return bucket("logs", env.log_bucket, {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}},
                  ref("var.log_retention_days"), merge(
        data("aws_elb_service_account", "current", {}),
        policy_document("logs_bucket", [
            tls_only("logs"),
            # Regions older than August 2022 deliver as the region's ELB account, newer ones as the service.
            statement(["s3:PutObject"], [load_balancer_logs], sid="LoadBalancerAccessLogs",
                      principals=[principal("AWS", ref("data.aws_elb_service_account.current.arn"))]),
            statement(["s3:PutObject"], [load_balancer_logs], sid="LoadBalancerAccessLogsService",
                      principals=[principal("Service", "logdelivery.elasticloadbalancing.amazonaws.com")]),
            statement(["s3:PutObject"], [f"{logs}/vpc-flow-logs/AWSLogs/{ACCOUNT}/*"], sid="FlowLogsWrite",
                      principals=[delivery], conditions=[
                          condition("StringEquals", "aws:SourceAccount", [ACCOUNT]),
                          condition("StringEquals", "s3:x-amz-acl", ["bucket-owner-full-control"])]),
            statement(["s3:GetBucketAcl", "s3:ListBucket"], [logs], sid="FlowLogsCheck", principals=[delivery],
                      conditions=[condition("StringEquals", "aws:SourceAccount", [ACCOUNT])]),
            statement(["s3:PutObject"], [f"{logs}/s3-access/*"], sid="ServerAccessLogs",
                      principals=[principal("Service", "logging.s3.amazonaws.com")],
                      conditions=[condition("StringEquals", "aws:SourceAccount", [ACCOUNT])]),
        ]),
        # CloudFront's standard logs are written with an ACL granting the bucket owner control: the bucket must
        # accept ACLs (CloudFront developer guide, "Configure standard logging"); the owner still owns every object.
    ), ownership="BucketOwnerPreferred")
