"""What each cluster add-on may do in AWS: written for this stack, scoped to its own resources where AWS allows."""

from __future__ import annotations

from bizinfra.naming import cluster_autoscaler_tags
from bizinfra.plan import DatastorePlan, EnvironmentPlan, target_group_name
from bizinfra.targets.terraform.blocks import Block, condition, stack_arn, statement
from bizinfra.targets.terraform.handles import (
    ACCOUNT,
    BACKUP_BUCKET,
    KMS_KEY,
    REPLICA_BUCKET,
    STANDBY_KEY,
    database,
)

ACCOUNT_ID = ACCOUNT.ref("account_id")
KEY = KMS_KEY.ref("arn")


def load_balancer_controller(env: EnvironmentPlan) -> list[Block]:
    """The AWS Load Balancer Controller, used only for TargetGroupBindings: Terraform owns the load balancer, its
    listeners and target groups, so the controller may read the network and register pod IPs in the bound target
    groups, and nothing else. Its published policy would also let it create, retag and delete load balancers and
    rewrite any listener in the account, which here only widens what a compromised controller could break.
    The read-only actions are the published policy's."""
    # Terraform's target groups carry no controller tag: the TargetGroupBindings may register pods in them only; with
    # a second region, also in the standby's, by the same names (the standby cluster's controller has this role).
    regions = [env.region, *([env.recovery.standby.region] if env.recovery.standby else [])]
    bound = [stack_arn("elasticloadbalancing", f"targetgroup/{target_group_name(env, service)}/*", region=region,
                       account=ACCOUNT_ID) for region in regions for service in env.services if service.public_host]
    return [
        *([statement(["elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"], bound,
                     sid="RegisterPodsInBoundTargetGroups")] if bound else []),
        statement([
            "ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeAvailabilityZones",
            "ec2:DescribeCoipPools", "ec2:DescribeInstances", "ec2:DescribeInternetGateways",
            "ec2:DescribeIpamPools", "ec2:DescribeNetworkInterfaces", "ec2:DescribeRouteTables",
            "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeTags",
            "ec2:DescribeVpcPeeringConnections",
            "ec2:DescribeVpcs", "ec2:GetCoipPoolUsage", "ec2:GetSecurityGroupsForVpc",
            "elasticloadbalancing:DescribeCapacityReservation", "elasticloadbalancing:DescribeListenerAttributes",
            "elasticloadbalancing:DescribeListenerCertificates", "elasticloadbalancing:DescribeListeners",
            "elasticloadbalancing:DescribeLoadBalancerAttributes", "elasticloadbalancing:DescribeLoadBalancers",
            "elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeSSLPolicies",
            "elasticloadbalancing:DescribeTags", "elasticloadbalancing:DescribeTargetGroupAttributes",
            "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth",
            "elasticloadbalancing:DescribeTrustStores",
        ], ["*"], sid="Discover"),
    ]


def secrets_reader(env: EnvironmentPlan) -> list[Block]:
    """External Secrets: read this environment's secrets (names `<platform>/<environment>/...`) and nothing else; with
    a second region, their replicas there too, by the same names: the standby cluster's operator reads in its own
    region under this same (global) role."""
    regions = [(env.region, KMS_KEY, "Own"), *([(env.recovery.standby.region, STANDBY_KEY, "Replicated")]
                                               if env.recovery.standby else [])]
    return [
        statement(["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy",
                   "secretsmanager:GetSecretValue", "secretsmanager:ListSecretVersionIds"],
                  [stack_arn("secretsmanager", f"secret:{env.platform}/{env.name}/*", region=region, account=ACCOUNT_ID)
                   for region, _, _ in regions], sid="ReadOwnSecrets"),
        *[statement(["kms:Decrypt"], [key.ref("arn")], sid=f"Decrypt{which}Secrets", conditions=[
            condition("StringEquals", "kms:ViaService", [f"secretsmanager.{region}.amazonaws.com"])])
          for region, key, which in regions],
    ]


def database_bootstrap(env: EnvironmentPlan, store: DatastorePlan) -> list[Block]:
    """A PostgreSQL store's bootstrap Job: read that store's RDS-managed master secret and nothing else. RDS names
    the secret itself, so the Job asks RDS, for this one instance, which secret it is."""
    return [
        statement(["rds:DescribeDBInstances"], [database(store.name).ref("arn")], sid="FindMasterSecret"),
        statement(["secretsmanager:GetSecretValue"],
                  [database(store.name).ref("master_user_secret[0].secret_arn")], sid="ReadMasterSecret"),
        statement(["kms:Decrypt"], [KEY], sid="DecryptMasterSecret", conditions=[
            condition("StringEquals", "kms:ViaService", [f"secretsmanager.{env.region}.amazonaws.com"])]),
    ]


def velero(env: EnvironmentPlan) -> list[Block]:
    """Velero with the AWS plugin: objects in the backup bucket, EBS snapshots of volumes (velero-plugin-for-aws).
    With a second region, the same in the backup bucket's replica there, which the standby cluster's Velero restores
    from under this same (global) role."""
    standby = env.recovery.standby
    buckets = [BACKUP_BUCKET.ref("arn"), *([REPLICA_BUCKET.ref("arn")] if standby else [])]
    keys = [KEY, *([STANDBY_KEY.ref("arn")] if standby else [])]
    regions = [env.region, *([standby.region] if standby else [])]
    return [
        statement(["ec2:DescribeSnapshots", "ec2:DescribeVolumes"], ["*"], sid="DescribeVolumes"),
        statement(["ec2:CreateSnapshot", "ec2:CreateTags", "ec2:CreateVolume", "ec2:DeleteSnapshot"], ["*"],
                  sid="SnapshotVolumes", conditions=[condition("StringEquals", "aws:RequestedRegion", regions)]),
        statement(["s3:ListBucket"], buckets, sid="ListBackups"),
        statement(["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:ListMultipartUploadParts",
                   "s3:PutObject"], [f"{bucket}/*" for bucket in buckets], sid="ReadWriteBackups"),
        statement(["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncrypt*", "kms:DescribeKey"],
                  keys, sid="BackupEncryption"),
    ]


def cluster_autoscaler(env: EnvironmentPlan) -> list[Block]:
    """The Cluster Autoscaler: read the Auto Scaling groups and instance types, resize only this cluster's groups.
    Follows the policy in cluster-autoscaler/cloudprovider/aws/README.md; EKS tags a managed node group's Auto
    Scaling group `k8s.io/cluster-autoscaler/<cluster> = owned`, which is what the condition checks."""
    return [
        statement(["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
                   "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
                   "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
                   "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
                   "eks:DescribeNodegroup"], ["*"], sid="Discover"),
        statement(["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"], ["*"],
                  sid="ResizeOwnGroups", conditions=[
                      condition("StringEquals", f"aws:ResourceTag/{key}", [value])
                      for key, value in cluster_autoscaler_tags(env.cluster_name).items() if value == "owned"]),
    ]
