"""EKS: the cluster, its nodes, and the IAM roles the Helm-installed add-ons and the database bootstrap Jobs assume
through EKS Pod Identity. The EKS add-ons are addons.py's."""

from __future__ import annotations

import re

from bizinfra.naming import (
    CLUSTER_AUTOSCALER,
    EXTERNAL_SECRETS,
    LOAD_BALANCER_CONTROLLER,
    VELERO,
    cluster_autoscaler_tags,
    control_plane_log_group,
)
from bizinfra.plan import EnvironmentPlan, WorkloadIdentity
from bizinfra.targets.terraform.blocks import (
    Block,
    assume_role_policy,
    condition,
    iam_document,
    merge,
    name,
    policy_attachment,
    policy_document,
    principal,
    ref,
    resource,
    role_with_policies,
    stack_arn,
    statement,
    tags,
)
from bizinfra.targets.terraform.handles import (
    ACCOUNT,
    CLUSTER,
    IRSA_PROVIDER,
    KMS_KEY,
    NODES_GROUP,
    PRIVATE_SUBNETS,
    Resource,
    addon,
    identity_role,
)
from bizinfra.targets.terraform.policies import (
    cluster_autoscaler,
    database_bootstrap,
    load_balancer_controller,
    secrets_reader,
    velero,
)

# Every control plane log: the API server's requests, the audit trail and the authenticator's decisions (who
# became whom) are what an incident needs; the controller manager and scheduler explain stuck rollouts.
CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
CLUSTER_ROLE = Resource("aws_iam_role", "cluster")
CLUSTER_POLICY = "AmazonEKSClusterPolicy"
CLUSTER_LOGS = Resource("aws_cloudwatch_log_group", "cluster")
NODES_ROLE = Resource("aws_iam_role", "nodes")
# The node group waits for these: without them its nodes cannot join or pull images.
NODE_POLICIES = ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"]
LAUNCH_TEMPLATE = Resource("aws_launch_template", "nodes")
NODE_GROUP = Resource("aws_eks_node_group", "main")
POD_IDENTITY_TRUST = iam_document("pod_identity_trust")


def cluster(env: EnvironmentPlan) -> Block:
    return merge(control_plane(env), access(env), nodes(env), oidc_provider(), identities(env))


def control_plane(env: EnvironmentPlan) -> Block:
    trust, encryption = iam_document("eks_trust"), iam_document("cluster_encryption")
    return merge(
        assume_role_policy(trust, "eks.amazonaws.com", ("sts:AssumeRole", "sts:TagSession")),
        role_with_policies(CLUSTER_ROLE, name(env, "cluster", limit=64), trust, [CLUSTER_POLICY], "EKS control plane"),
        # Envelope encryption of Kubernetes secrets: the control plane uses the key with its own role.
        policy_document(encryption, [statement(
            ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ListGrants"], [KMS_KEY.ref("arn")])]),
        resource("aws_iam_role_policy", "cluster_encryption", {
            "name": "secrets-encryption",
            "role": CLUSTER_ROLE.ref("id"),
            "policy": encryption.ref("json"),
        }),
        # Created before the cluster so EKS does not create it without retention or encryption.
        CLUSTER_LOGS.declare({
            "name": control_plane_log_group(env.cluster_name),
            "retention_in_days": ref("var.log_retention_days"),
            "kms_key_id": KMS_KEY.ref("arn"),
        }),
        CLUSTER.declare({
            "name": env.cluster_name,
            "version": ref("var.kubernetes_version"),
            "role_arn": CLUSTER_ROLE.ref("arn"),
            "enabled_cluster_log_types": CONTROL_PLANE_LOGS,
            "vpc_config": {
                "subnet_ids": PRIVATE_SUBNETS.ref("[*].id"),
                **endpoint_access(env),
            },
            "encryption_config": {"resources": ["secrets"], "provider": {"key_arn": KMS_KEY.ref("arn")}},
            "access_config": {"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
            # At the end of standard support EKS upgrades the cluster instead of billing extended support.
            "upgrade_policy": {"support_type": "STANDARD"},
            "tags": tags(env, "cluster"),
            "depends_on": [CLUSTER_LOGS.address, policy_attachment(CLUSTER_ROLE, CLUSTER_POLICY).address],
        }),
    )


def endpoint_access(env: EnvironmentPlan) -> Block:
    """The API answers inside the VPC always (the nodes, the add-ons), and outside it only the spec's `api_access`
    networks; with none, the public endpoint is off. Literal values, so that checkov judges them."""
    if not env.api_access:
        return {"endpoint_private_access": True, "endpoint_public_access": False}
    return {"endpoint_private_access": True, "endpoint_public_access": True,
            "public_access_cidrs": list(env.api_access)}


def access(env: EnvironmentPlan) -> Block:
    """Cluster-admin for the listed IAM principals, through EKS access entries (no aws-auth ConfigMap)."""
    entries = Resource("aws_eks_access_entry", "admin")
    return merge(
        entries.declare({
            "for_each": ref("toset(var.cluster_admin_arns)"),
            "cluster_name": CLUSTER.ref("name"),
            "principal_arn": ref("each.value"),
        }),
        resource("aws_eks_access_policy_association", "admin", {
            "for_each": entries.ref(),
            "cluster_name": CLUSTER.ref("name"),
            "principal_arn": ref("each.value.principal_arn"),
            "policy_arn": stack_arn("eks", "cluster-access-policy/AmazonEKSClusterAdminPolicy", account="aws"),
            "access_scope": {"type": "cluster"},
        }),
    )


def ami_type(instance_type: str) -> str:
    """Graviton families carry a `g` after the generation (m6g, t4g, c7gn): they need the arm64 image."""
    return "AL2023_ARM_64_STANDARD" if re.match(r"^[a-z]+\d+g", instance_type) else "AL2023_x86_64_STANDARD"


def nodes(env: EnvironmentPlan) -> Block:
    trust = iam_document("nodes_trust")
    return merge(
        assume_role_policy(trust, "ec2.amazonaws.com"),
        role_with_policies(NODES_ROLE, name(env, "nodes", limit=64), trust,
                           [*NODE_POLICIES, "AmazonSSMManagedInstanceCore"], "EKS managed nodes"),
        LAUNCH_TEMPLATE.declare({
            "name": name(env, "nodes", limit=125),
            "description": "EKS nodes: IMDSv2 only, encrypted gp3 root volume, the node security group",
            "update_default_version": True,
            # Both groups: EKS adds the cluster group itself only when a launch template names none.
            "vpc_security_group_ids": [CLUSTER.ref("vpc_config[0].cluster_security_group_id"),
                                       NODES_GROUP.ref("id")],
            # Hop limit 1: a pod is one hop behind the node, so only host-network pods (the VPC CNI, kube-proxy)
            # reach instance metadata, and no pod can take the node role's credentials (EKS best practices
            # guide, "Restrict access to the instance profile assigned to the worker node"). Add-ons are given
            # their region and VPC in their settings instead, and their credentials by EKS Pod Identity.
            "metadata_options": {"http_endpoint": "enabled", "http_tokens": "required",
                                 "http_put_response_hop_limit": 1},
            "block_device_mappings": [{"device_name": "/dev/xvda", "ebs": {
                "volume_size": 50, "volume_type": "gp3", "encrypted": "true", "delete_on_termination": "true"}}],
            "tag_specifications": [{"resource_type": "instance", "tags": tags(env, "node")},
                                   {"resource_type": "volume", "tags": tags(env, "node")}],
        }),
        NODE_GROUP.declare({
            "cluster_name": CLUSTER.ref("name"),
            # A prefix, so a change that replaces the group (instance type) brings the new one up first.
            "node_group_name_prefix": f"{name(env, 'nodes', limit=36)}-",
            "node_role_arn": NODES_ROLE.ref("arn"),
            "subnet_ids": PRIVATE_SUBNETS.ref("[*].id"),
            "ami_type": ami_type(env.sizes.node),
            "instance_types": [env.sizes.node],
            # Spot where the spec says so (default outside production): EKS replaces interrupted nodes itself.
            "capacity_type": "SPOT" if env.spot else "ON_DEMAND",
            "scaling_config": {"min_size": env.nodes.min, "desired_size": env.nodes.min, "max_size": env.nodes.max},
            "update_config": {"max_unavailable": 1},
            "launch_template": {"id": LAUNCH_TEMPLATE.ref("id"), "version": LAUNCH_TEMPLATE.ref("latest_version")},
            # EKS puts the autoscaler's discovery tags on the group's Auto Scaling group itself; stating them here
            # shows, in this file, what the Cluster Autoscaler release (addons stack) discovers the group by.
            "tags": {**tags(env, "nodes"), **cluster_autoscaler_tags(env.cluster_name)},
            # The cluster autoscaler moves the desired size between min and max; do not fight it.
            "lifecycle": {"ignore_changes": ["scaling_config[0].desired_size"], "create_before_destroy": True},
            "depends_on": [policy_attachment(NODES_ROLE, policy).address for policy in NODE_POLICIES],
        }),
    )


def oidc_provider() -> Block:
    """IRSA, for workloads that cannot use EKS Pod Identity yet."""
    # No thumbprint: IAM trusts the EKS issuer's certificate authority itself (provider >= 5.x computes it).
    return IRSA_PROVIDER.declare({
        "url": CLUSTER.ref("identity[0].oidc[0].issuer"),
        "client_id_list": ["sts.amazonaws.com"],
    })


def identities(env: EnvironmentPlan) -> Block:
    policies = {
        LOAD_BALANCER_CONTROLLER: load_balancer_controller,
        EXTERNAL_SECRETS: secrets_reader,
        VELERO: velero,
        CLUSTER_AUTOSCALER: cluster_autoscaler,
    }
    parts = [policy_document(POD_IDENTITY_TRUST, [statement(
        ["sts:AssumeRole", "sts:TagSession"], principals=[principal("Service", POD_IDENTITY_PRINCIPAL)],
        conditions=[condition("StringEquals", "aws:SourceAccount", [ACCOUNT.ref("account_id")])],
    )])]
    for identity in env.identities:
        parts.append(pod_identity(env, identity, policies[identity.name](env)))
    for bootstrap in env.database_bootstraps:
        parts.append(pod_identity(env, bootstrap.identity,
                                   database_bootstrap(env, env.datastore(bootstrap.store))))
    return merge(*parts)


def pod_identity(env: EnvironmentPlan, identity: WorkloadIdentity, statements: list[Block]) -> Block:
    """The identity's IAM role, which EKS Pod Identity hands its ServiceAccount, with `statements` as its inline
    policy; with none, a role with no permission."""
    role = identity_role(identity.name)
    parts = [
        role.declare({
            "name": identity.role_name,
            "description": f"{identity.namespace}/{identity.service_account} on {env.cluster_name} (EKS Pod Identity)",
            "assume_role_policy": POD_IDENTITY_TRUST.ref("json"),
        }),
        resource("aws_eks_pod_identity_association", role.name, {
            "cluster_name": CLUSTER.ref("name"),
            "namespace": identity.namespace,
            "service_account": identity.service_account,
            "role_arn": role.ref("arn"),
            "depends_on": [addon("eks-pod-identity-agent").address],
        }),
    ]
    if statements:
        permissions = iam_document(role.name)
        parts += [policy_document(permissions, statements), resource("aws_iam_role_policy", role.name, {
            "name": identity.name, "role": role.ref("id"), "policy": permissions.ref("json")})]
    return merge(*parts)
