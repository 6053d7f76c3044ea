"""The application's own buckets (the spec's `storage:`) and what reaches them: each bucket private, versioned,
encrypted with the environment's key, TLS only, its lifecycle from the spec; each service that calls AWS its own
EKS Pod Identity role, allowed only its buckets and their key; a DynamoDB gateway endpoint when a service calls
DynamoDB (S3's is the network's, for every stack).

Interface endpoints (SQS, Secrets Manager, ...) are left out on cost: each costs about $0.01 an hour per zone
($15 a month for two zones, before $0.01 per GB) against NAT processing at about $0.045 per GB on a gateway the
stack runs anyway, so one pays for itself only past roughly 400 GB a month to that service, far beyond what a
business app's API calls move. Gateway endpoints (S3, DynamoDB) are free, so every stack gets them.
"""

from __future__ import annotations

from bizinfra.plan import BucketPlan, EnvironmentPlan, ServicePlan, WorkloadIdentity
from bizinfra.targets.terraform.blocks import (
    Block,
    condition,
    merge,
    output,
    policy_document,
    resource,
    statement,
    tags,
)
from bizinfra.targets.terraform.cluster import pod_identity
from bizinfra.targets.terraform.handles import (
    KMS_KEY,
    LOG_BUCKET,
    STANDBY_KEY,
    VPC,
    Resource,
    bucket_policy,
    identity_role,
)
from bizinfra.targets.terraform.network import PRIVATE_ROUTES
from bizinfra.targets.terraform.storage import INCOMPLETE_UPLOAD_DAYS, bucket_document, tls_only

# What a service may do with the objects of a bucket it uses: read, write, delete and list them, and finish or
# abandon its multipart uploads. Not the bucket's settings, its policy or other versions' removal.
OBJECT_ACTIONS = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:ListMultipartUploadParts",
                  "s3:PutObject"]
BUCKET_ACTIONS = ["s3:ListBucket", "s3:ListBucketMultipartUploads"]
# SSE-KMS with a bucket key: reading needs Decrypt, writing GenerateDataKey, each only through S3.
KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]


def application_bucket(name: str) -> Resource:
    """`aws_s3_bucket.app_<name>`: apart from the platform's own `backups` and `logs` whatever the spec names."""
    return Resource("aws_s3_bucket", f"app_{name.replace('-', '_')}")


def application_replica_bucket(name: str) -> Resource:
    """`aws_s3_bucket.app_<name>_replica`: an application bucket's replica in the second region (recovery.py)."""
    return Resource("aws_s3_bucket", f"{application_bucket(name).name}_replica")


def buckets(env: EnvironmentPlan) -> Block:
    parts = [bucket(env, plan) for plan in env.buckets]
    parts += [service_identity(env, service, service.identity) for service in env.services if service.identity]
    if any("dynamodb" in service.aws_services for service in env.services):
        parts.append(dynamodb_endpoint(env))
    parts += [bucket_outputs(plan) for plan in env.buckets]
    return merge(*parts)


def bucket(env: EnvironmentPlan, plan: BucketPlan) -> Block:
    """Private, versioned, SSE-KMS with the environment's key, TLS only, access logged; outside production a destroy
    empties it first (force_destroy), so a stack that comes and goes leaves nothing behind."""
    return private_bucket(env, plan, application_bucket(plan.name), plan.bucket, KMS_KEY, LOG_BUCKET)


def private_bucket(env: EnvironmentPlan, plan: BucketPlan, handle: Resource, bucket_name: str, key: Resource,
                   logs: Resource) -> Block:
    """An application bucket or its replica in the second region (recovery.py): named `bucket_name`, encrypted with
    `key`, its access logged to `logs`, its lifecycle the spec's."""
    label, bucket_id = handle.name, handle.ref("id")
    public_access = Resource("aws_s3_bucket_public_access_block", label)
    versioning = Resource("aws_s3_bucket_versioning", label)
    return merge(
        handle.declare({"bucket": bucket_name, "force_destroy": not env.production, "tags": {"Name": bucket_name}}),
        resource("aws_s3_bucket_ownership_controls", label, {
            "bucket": bucket_id, "rule": {"object_ownership": "BucketOwnerEnforced"}}),
        public_access.declare({
            "bucket": bucket_id, "block_public_acls": True, "block_public_policy": True,
            "ignore_public_acls": True, "restrict_public_buckets": True}),
        versioning.declare({"bucket": bucket_id, "versioning_configuration": {"status": "Enabled"}}),
        resource("aws_s3_bucket_server_side_encryption_configuration", label, {
            "bucket": bucket_id,
            "rule": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                                  "kms_master_key_id": key.ref("arn")},
                      "bucket_key_enabled": True}]}),
        resource("aws_s3_bucket_lifecycle_configuration", label, {
            "bucket": bucket_id, "rule": [lifecycle(plan)], "depends_on": [versioning.address]}),
        policy_document(bucket_document(handle), [tls_only(handle)]),
        bucket_policy(handle).declare({
            "bucket": bucket_id, "policy": bucket_document(handle).ref("json"),
            "depends_on": [public_access.address]}),
        resource("aws_s3_bucket_logging", label, {
            "bucket": bucket_id, "target_bucket": logs.ref("id"), "target_prefix": f"s3-access/{plan.name}/",
            # S3 refuses the setting until the log bucket's policy lets its logging service write there.
            "depends_on": [bucket_policy(logs).address]}),
    )


def lifecycle(plan: BucketPlan) -> Block:
    """The spec's lifecycle as one rule over every object: transition, expiry, previous versions, stale uploads."""
    rule: Block = {"id": "lifecycle", "status": "Enabled", "filter": {}}
    if plan.transition_days is not None:
        rule["transition"] = [{"days": plan.transition_days, "storage_class": plan.storage_class}]
    if plan.expire_days is not None:
        rule["expiration"] = {"days": plan.expire_days}
    rule["noncurrent_version_expiration"] = {"noncurrent_days": plan.keep_versions_days}
    rule["abort_incomplete_multipart_upload"] = {"days_after_initiation": INCOMPLETE_UPLOAD_DAYS}
    return rule


def bucket_statements(env: EnvironmentPlan, service: ServicePlan) -> list[Block]:
    """Its buckets' objects and listings, and the key only as S3 uses it on their behalf. With a second region, the
    same on the buckets' replicas there and the replicas' key: the role is global, so a service failed over to the
    standby cluster works with the replicas under the same role."""
    if not service.buckets:
        return []
    arns = [application_bucket(name).ref("arn") for name in service.buckets]
    keys = [key_statement(KMS_KEY, env.region, "EncryptOwnObjects")]
    standby = env.recovery.standby
    if standby:
        arns += [application_replica_bucket(name).ref("arn") for name in service.buckets]
        keys.append(key_statement(STANDBY_KEY, standby.region, "EncryptOwnReplicas"))
    return [
        statement(BUCKET_ACTIONS, arns, sid="ListOwnBuckets"),
        statement(OBJECT_ACTIONS, [f"{arn}/*" for arn in arns], sid="ReadWriteOwnObjects"),
        *keys,
    ]


def key_statement(key: Resource, region: str, sid: str) -> Block:
    """The key's use, only by S3 in the region the key is in."""
    return statement(KEY_ACTIONS, [key.ref("arn")], sid=sid, conditions=[
        condition("StringEquals", "kms:ViaService", [f"s3.{region}.amazonaws.com"])])


def service_identity(env: EnvironmentPlan, service: ServicePlan, identity: WorkloadIdentity) -> Block:
    """The service's own role for its ServiceAccount. A service that calls AWS services but uses no bucket gets the
    role with no permission: bizinfra grants nothing it cannot scope to this stack (a queue it does not know)."""
    role = identity_role(identity.name)
    return merge(pod_identity(env, identity, bucket_statements(env, service)),
                 output(f"{role.name}_role_arn", role.ref("arn"),
                        f"The IAM role of {identity.namespace}/{identity.service_account}."))


def dynamodb_endpoint(env: EnvironmentPlan) -> Block:
    """DynamoDB, like S3, has a free gateway endpoint: its traffic skips the NAT gateway's per-GB charge."""
    return resource("aws_vpc_endpoint", "dynamodb", {
        "vpc_id": VPC.ref("id"),
        "service_name": f"com.amazonaws.{env.region}.dynamodb",
        "vpc_endpoint_type": "Gateway",
        "route_table_ids": PRIVATE_ROUTES.ref("[*].id"),
        "tags": tags(env, "dynamodb"),
    })


def bucket_outputs(plan: BucketPlan) -> Block:
    handle = application_bucket(plan.name)
    users = ", ".join(plan.users) or "no service"
    return output(f"{handle.name}_bucket", handle.ref("id"),
                  f"Bucket {plan.name} ({plan.variable} of {users}).")
