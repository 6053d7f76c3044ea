"""What each cluster add-on may do in AWS: written for this stack, scoped to its own resources where AWS allows."""

from __future__ import annotations

from bizinfra.plan import DatastorePlan, EnvironmentPlan, target_group_name
from bizinfra.targets.terraform.blocks import Block, condition, ref, statement

PARTITION = ref("data.aws_partition.current.partition")
ACCOUNT = ref("data.aws_caller_identity.current.account_id")
KMS_KEY = ref("aws_kms_key.main.arn")
# The load balancer controller tags what it creates with these keys; the conditions below keep it to its own.
INGRESS_TAG = "ingress.k8s.aws/cluster"
SERVICE_TAG = "service.k8s.aws/cluster"


def load_balancer_controller(env: EnvironmentPlan) -> list[Block]:
    """The AWS Load Balancer Controller: read the network, manage the load balancers, target groups and security
    groups it created (recognised by its tags). Follows the controller's published IAM policy (docs/install)."""
    lb_arn = f"arn:{PARTITION}:elasticloadbalancing:{env.region}:{ACCOUNT}"
    owned = [condition("Null", f"aws:ResourceTag/{INGRESS_TAG}", ["false"])]
    # Terraform's target groups carry no controller tag: the TargetGroupBindings may register pods in them only.
    bound = [f"{lb_arn}:targetgroup/{target_group_name(env, service)}/*" for service in env.services
             if service.public_host]
    return [
        *([statement(["elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"], bound,
                     sid="RegisterPodsInBoundTargetGroups")] if bound else []),
        statement(["iam:CreateServiceLinkedRole"], ["*"], sid="ServiceLinkedRole", conditions=[
            condition("StringEquals", "iam:AWSServiceName", ["elasticloadbalancing.amazonaws.com"])]),
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
            "acm:DescribeCertificate", "acm:ListCertificates", "cognito-idp:DescribeUserPoolClient",
            "iam:GetServerCertificate", "iam:ListServerCertificates", "shield:DescribeProtection",
            "shield:GetSubscriptionState", "wafv2:GetWebACL", "wafv2:GetWebACLForResource",
        ], ["*"], sid="Discover"),
        statement(["shield:CreateProtection", "shield:DeleteProtection", "wafv2:AssociateWebACL",
                   "wafv2:DisassociateWebACL"], ["*"], sid="ProtectLoadBalancers"),
        statement(["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"], ["*"],
                  sid="OpenBackendPorts", conditions=[
                      condition("StringEquals", "ec2:Vpc", [f"arn:{PARTITION}:ec2:{env.region}:{ACCOUNT}:vpc/"
                                                            + ref("aws_vpc.main.id")])]),
        statement(["ec2:CreateSecurityGroup"], ["*"], sid="CreateSecurityGroups"),
        statement(["ec2:CreateTags"], [f"arn:{PARTITION}:ec2:*:*:security-group/*"], sid="TagNewSecurityGroups",
                  conditions=[condition("StringEquals", "ec2:CreateAction", ["CreateSecurityGroup"]),
                              condition("Null", f"aws:RequestTag/{INGRESS_TAG}", ["false"])]),
        statement(["ec2:CreateTags", "ec2:DeleteTags", "ec2:DeleteSecurityGroup"],
                  [f"arn:{PARTITION}:ec2:*:*:security-group/*"], sid="ManageOwnSecurityGroups", conditions=owned),
        statement(["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"], ["*"],
                  sid="CreateTaggedLoadBalancers", conditions=[
                      condition("ForAnyValue:StringEquals", "aws:TagKeys", [INGRESS_TAG, SERVICE_TAG])]),
        statement(["elasticloadbalancing:CreateListener", "elasticloadbalancing:CreateRule",
                   "elasticloadbalancing:DeleteListener", "elasticloadbalancing:DeleteRule"], ["*"],
                  sid="ManageListeners"),
        statement(["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
                  [f"{lb_arn}:loadbalancer/*", f"{lb_arn}:targetgroup/*", f"{lb_arn}:listener/*",
                   f"{lb_arn}:listener-rule/*"], sid="TagLoadBalancers"),
        statement([
            "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DeleteTargetGroup",
            "elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:ModifyListenerAttributes",
            "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:ModifyTargetGroup",
            "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:RegisterTargets",
            "elasticloadbalancing:SetIpAddressType", "elasticloadbalancing:SetSecurityGroups",
            "elasticloadbalancing:SetSubnets",
        ], ["*"], sid="ManageOwnLoadBalancers", conditions=owned),
        statement(["elasticloadbalancing:AddListenerCertificates", "elasticloadbalancing:ModifyListener",
                   "elasticloadbalancing:ModifyRule", "elasticloadbalancing:RemoveListenerCertificates",
                   "elasticloadbalancing:SetWebAcl"], ["*"], sid="ConfigureListeners"),
    ]


def secrets_reader(env: EnvironmentPlan) -> list[Block]:
    """External Secrets: read this environment's secrets (names `<platform>/<environment>/...`) and nothing else."""
    prefix = f"arn:{PARTITION}:secretsmanager:{env.region}:{ACCOUNT}:secret:{env.platform}/{env.name}/*"
    return [
        statement(["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy",
                   "secretsmanager:GetSecretValue", "secretsmanager:ListSecretVersionIds"], [prefix],
                  sid="ReadOwnSecrets"),
        statement(["kms:Decrypt"], [KMS_KEY], sid="DecryptOwnSecrets", conditions=[
            condition("StringEquals", "kms:ViaService", [f"secretsmanager.{env.region}.amazonaws.com"])]),
    ]


def database_bootstrap(env: EnvironmentPlan, store: DatastorePlan) -> list[Block]:
    """A PostgreSQL store's bootstrap Job: read that store's RDS-managed master secret and nothing else. RDS names
    the secret itself, so the Job asks RDS, for this one instance, which secret it is."""
    return [
        statement(["rds:DescribeDBInstances"], [ref(f"aws_db_instance.{store.name}.arn")], sid="FindMasterSecret"),
        statement(["secretsmanager:GetSecretValue"],
                  [ref(f"aws_db_instance.{store.name}.master_user_secret[0].secret_arn")], sid="ReadMasterSecret"),
        statement(["kms:Decrypt"], [KMS_KEY], sid="DecryptMasterSecret", conditions=[
            condition("StringEquals", "kms:ViaService", [f"secretsmanager.{env.region}.amazonaws.com"])]),
    ]


def velero(env: EnvironmentPlan) -> list[Block]:
    """Velero with the AWS plugin: objects in the backup bucket, EBS snapshots of volumes (velero-plugin-for-aws)."""
    bucket = ref("aws_s3_bucket.backups.arn")
    return [
        statement(["ec2:DescribeSnapshots", "ec2:DescribeVolumes"], ["*"], sid="DescribeVolumes"),
        statement(["ec2:CreateSnapshot", "ec2:CreateTags", "ec2:CreateVolume", "ec2:DeleteSnapshot"], ["*"],
                  sid="SnapshotVolumes", conditions=[condition("StringEquals", "aws:RequestedRegion", [env.region])]),
        statement(["s3:ListBucket"], [bucket], sid="ListBackups"),
        statement(["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:ListMultipartUploadParts",
                   "s3:PutObject"], [f"{bucket}/*"], sid="ReadWriteBackups"),
        statement(["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncrypt*", "kms:DescribeKey"],
                  [KMS_KEY], sid="BackupEncryption"),
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
                      condition("StringEquals", f"aws:ResourceTag/k8s.io/cluster-autoscaler/{env.cluster_name}",
                                ["owned"])]),
    ]
