"""The EKS add-ons, each at its pinned version (addon_versions.py), and the IAM role of each that calls AWS.

What every node needs (pod networking with NetworkPolicy enforcement, service routing, DNS, the Pod Identity agent),
volumes (the EBS CSI driver, for Prometheus's and Alertmanager's claims), resource metrics for the HPAs and
`kubectl top` (metrics-server), and container logs (CloudWatch Observability's Fluent Bit). An add-on that calls
AWS has exactly one identity: the nodes' role for the VPC CNI (nodes cannot become ready without it, so it cannot
wait for Pod Identity), an EKS Pod Identity association on the add-on itself for the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bizinfra.naming import VOLUME_STORAGE_CLASS
from bizinfra.plan import EnvironmentPlan
from bizinfra.targets.terraform.addon_versions import EKS_ADDONS
from bizinfra.targets.terraform.blocks import (
    Block,
    condition,
    iam_document,
    merge,
    name,
    policy_attachment,
    policy_document,
    role_with_policies,
    statement,
)
from bizinfra.targets.terraform.cluster import NODE_GROUP, POD_IDENTITY_TRUST
from bizinfra.targets.terraform.handles import CLUSTER, KMS_KEY, Resource, addon, container_logs, identity_role


@dataclass(frozen=True)
class Addon:
    name: str
    needs_nodes: bool = False  # runs a Deployment, which EKS waits to be ready: created after the node group
    namespace: str = "kube-system"
    service_account: str | None = None  # given an IAM role through EKS Pod Identity
    managed_policies: tuple[str, ...] = ()  # AWS managed policies on that role
    node_policy: str | None = None  # or: calls AWS as the node, with this managed policy on the nodes' role


VPC_CNI = Addon("vpc-cni", node_policy="AmazonEKS_CNI_Policy")
EBS_CSI_DRIVER = Addon("aws-ebs-csi-driver", needs_nodes=True, service_account="ebs-csi-controller-sa",
                       managed_policies=("service-role/AmazonEBSCSIDriverPolicy",))
CLOUDWATCH = Addon("amazon-cloudwatch-observability", needs_nodes=True, namespace="amazon-cloudwatch",
                   service_account="cloudwatch-agent")  # Fluent Bit runs as the agent's ServiceAccount
ADDONS = (
    VPC_CNI,
    Addon("kube-proxy"),
    Addon("eks-pod-identity-agent"),
    Addon("coredns", needs_nodes=True),
    Addon("metrics-server", needs_nodes=True),
    EBS_CSI_DRIVER,
    CLOUDWATCH,
)

# The vpc-cni add-on's configuration schema takes the flag as a string: its network policy agent is what enforces
# the NetworkPolicies, off by default.
VPC_CNI_CONFIGURATION = {"enableNetworkPolicy": "true"}
# CloudWatch Observability keeps only Fluent Bit's container logs. Prometheus (kube-prometheus-stack) already
# scrapes node and pod metrics through node-exporter and kube-state-metrics, so Container Insights' metrics
# would be paid for twice (per observation); Application Signals needs SDK instrumentation the services do not
# carry and bills per request; the GPU and Neuron exporters have no such nodes to watch. Keys of chart 6.4.0.
CLOUDWATCH_CONFIGURATION = {
    "containerLogs": {"enabled": True},
    "containerInsights": {"enabled": False},
    "applicationSignals": {"enabled": False},
    "dcgmExporter": {"enabled": False},
    "neuronMonitor": {"enabled": False},
}


def eks_addons(env: EnvironmentPlan) -> Block:
    return merge(*(eks_addon(env, each) for each in ADDONS))


def eks_addon(env: EnvironmentPlan, spec: Addon) -> Block:
    body: Block = {
        "cluster_name": CLUSTER.ref("name"),
        "addon_name": spec.name,
        "addon_version": EKS_ADDONS[spec.name].version,
        "resolve_conflicts_on_create": "OVERWRITE",
        "resolve_conflicts_on_update": "OVERWRITE",
    }
    configuration = configuration_values(spec)
    if configuration:
        body["configuration_values"] = json.dumps(configuration, sort_keys=True)
    depends_on = [NODE_GROUP.address] if spec.needs_nodes else []
    parts = []
    if spec.service_account:
        role = identity_role(spec.name)
        body["pod_identity_association"] = [{"role_arn": role.ref("arn"), "service_account": spec.service_account}]
        parts.append(addon_role(env, spec))
        depends_on += [policy_attachment(role, policy).address for policy in spec.managed_policies]
        depends_on += [Resource("aws_iam_role_policy", role.name).address] if permissions(env, spec) else []
    if spec is CLOUDWATCH:  # Terraform's groups, with their retention and key, exist before Fluent Bit writes
        depends_on += [container_logs(kind).address for kind in env.logs.groups]
    if depends_on:
        body["depends_on"] = depends_on
    return merge(addon(spec.name).declare(body), *parts)


def configuration_values(spec: Addon) -> dict[str, Any]:
    if spec is VPC_CNI:
        return VPC_CNI_CONFIGURATION
    if spec is EBS_CSI_DRIVER:
        return {"storageClasses": [storage_class()]}
    if spec is CLOUDWATCH:
        return CLOUDWATCH_CONFIGURATION
    return {}


def storage_class() -> dict[str, Any]:
    """The cluster's default StorageClass (EKS creates none since 1.30): gp3, encrypted with the environment's
    key, bound where the pod lands, growable; a volume goes with its claim (Velero keeps the backups)."""
    return {
        "name": VOLUME_STORAGE_CLASS,
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        "parameters": {"type": "gp3", "encrypted": "true", "kmsKeyId": KMS_KEY.ref("arn")},
        "allowVolumeExpansion": True,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


def addon_role(env: EnvironmentPlan, spec: Addon) -> Block:
    """The add-on's IAM role, trusted by EKS Pod Identity, with its managed policies and its own statements."""
    role = identity_role(spec.name)
    parts = [role_with_policies(role, name(env, spec.name.removeprefix("aws-"), limit=64), POD_IDENTITY_TRUST,
                                list(spec.managed_policies),
                                f"{spec.namespace}/{spec.service_account} on {env.cluster_name} (EKS add-on "
                                f"{spec.name}, EKS Pod Identity)")]
    statements = permissions(env, spec)
    if statements:
        document = iam_document(role.name)
        parts += [policy_document(document, statements),
                  Resource("aws_iam_role_policy", role.name).declare({"name": spec.name, "role": role.ref("id"),
                                                              "policy": document.ref("json")})]
    return merge(*parts)


def permissions(env: EnvironmentPlan, spec: Addon) -> list[Block]:
    if spec is EBS_CSI_DRIVER:
        return ebs_volume_encryption()
    if spec is CLOUDWATCH:
        return container_log_writer(env)
    return []


def ebs_volume_encryption() -> list[Block]:
    """What AmazonEBSCSIDriverPolicy lacks for volumes under a customer managed key: use of the environment's key,
    and grants on it for EC2 only (EKS User Guide, "Amazon EBS CSI driver", custom KMS key)."""
    key = KMS_KEY.ref("arn")
    return [
        statement(["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], [key], sid="GrantVolumesTheKey",
                  conditions=[condition("Bool", "kms:GrantIsForAWSResource", ["true"])]),
        statement(["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
                  [key], sid="EncryptVolumes"),
    ]


def container_log_writer(env: EnvironmentPlan) -> list[Block]:
    """Fluent Bit writes streams into the cluster's three log groups and nowhere else: not the managed
    CloudWatchAgentServerPolicy, whose writes reach every log group and metric of the account. It may create only
    those groups (its `auto_create_group` asks even when they exist); CloudWatch Logs itself uses the key."""
    groups = [container_logs(kind).ref("arn") for kind in env.logs.groups]
    return [
        statement(["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                  [*groups, *(f"{group}:log-stream:*" for group in groups)], sid="WriteContainerLogs"),
        statement(["logs:CreateLogGroup"], groups, sid="FindContainerLogGroups"),
    ]
