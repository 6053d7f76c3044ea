"""The role GitHub Actions deploys with: assumed by OIDC, allowed to find this cluster and to apply the environment's
manifests to it, nothing else in AWS.

It trusts the account's GitHub OIDC provider, which the bootstrap stack creates (bootstrap.py) before any
environment's stack is applied. Created only when the spec names the repository (`delivery.repository`): a trust
without a `sub` condition would let any repository on GitHub deploy here, so with no repository there is no role,
and the output says why.
"""

from __future__ import annotations

from bizinfra.naming import DEPLOY_SESSION_LIMIT_SECONDS
from bizinfra.plan import EnvironmentPlan
from bizinfra.targets.terraform.blocks import (
    Block,
    condition,
    iam_document,
    merge,
    output,
    policy_document,
    principal,
    stack_arn,
    statement,
)
from bizinfra.targets.terraform.handles import ACCOUNT, CLUSTER, Resource

GITHUB_ISSUER = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"  # what aws-actions/configure-aws-credentials asks GitHub's token for
# The deploy jobs apply the environment's whole folder (docs/github.md): besides the platform's namespace that is the
# Namespace itself, the ClusterSecretStore, the velero Schedule and the dashboard in the monitoring stack's namespace,
# and they read the add-ons' CRDs before applying. No narrower EKS access policy may create a Namespace or a
# cluster-scoped object (AmazonEKSEditPolicy and AmazonEKSAdminPolicy only read namespaces), so the role is cluster
# admin; what bounds it is its trust: only the jobs of this GitHub environment, behind its protection rules.
ACCESS_POLICY = "AmazonEKSClusterAdminPolicy"
# The drift check refreshes the add-ons' Helm releases, which Helm keeps as Secrets in their namespaces: reading
# them needs AmazonEKSAdminViewPolicy (every object, Secrets included; AmazonEKSViewPolicy leaves Secrets out).
VIEW_POLICY = "AmazonEKSAdminViewPolicy"
ROLE = Resource("aws_iam_role", "deploy")
ACCESS = Resource("aws_eks_access_entry", "deploy")


def deploy_role(env: EnvironmentPlan) -> Block:
    return merge(deploy_access(env), drift_access(env))


def drift_access(env: EnvironmentPlan) -> Block:
    """The infrastructure workflow's drift role (the bootstrap stack makes it) may read the cluster; none without
    a drift branch, as then there is no such role."""
    if env.deploy.drift_subject is None:
        return {}
    drift = Resource("aws_eks_access_entry", "drift")
    return merge(
        drift.declare({
            "cluster_name": CLUSTER.ref("name"),
            "principal_arn": stack_arn("iam", f"role/{env.deploy.drift_role}", account=ACCOUNT.ref("account_id")),
        }),
        Resource("aws_eks_access_policy_association", "drift").declare({
            "cluster_name": CLUSTER.ref("name"),
            "principal_arn": drift.ref("principal_arn"),
            "policy_arn": stack_arn("eks", f"cluster-access-policy/{VIEW_POLICY}", account="aws"),
            "access_scope": {"type": "cluster"},
        }),
    )


def deploy_access(env: EnvironmentPlan) -> Block:
    if env.deploy.subject is None:
        return output("deploy_role_arn", "not created: set delivery.repository (owner/name) in the spec so the role "
                      "trusts only that repository's deploy jobs", "The IAM role GitHub Actions deploys with.")
    account = ACCOUNT.ref("account_id")
    trust, permissions = iam_document("deploy_trust"), iam_document("deploy")
    return merge(
        policy_document(trust, [statement(
            ["sts:AssumeRoleWithWebIdentity"],
            principals=[principal("Federated", stack_arn("iam", f"oidc-provider/{GITHUB_ISSUER}", account=account))],
            conditions=[condition("StringEquals", f"{GITHUB_ISSUER}:aud", [AUDIENCE]),
                        condition("StringEquals", f"{GITHUB_ISSUER}:sub", [env.deploy.subject])],
        )]),
        ROLE.declare({
            "name": env.deploy.role,
            "description": f"GitHub Actions deploys to {env.cluster_name} (jobs of {env.deploy.subject})",
            "assume_role_policy": trust.ref("json"),
            "max_session_duration": DEPLOY_SESSION_LIMIT_SECONDS,
        }),
        policy_document(permissions, [statement(
            ["eks:DescribeCluster"],
            [stack_arn("eks", f"cluster/{env.cluster_name}", region=env.region, account=account)], sid="FindCluster")]),
        Resource("aws_iam_role_policy", "deploy").declare({
            "name": "describe-cluster",
            "role": ROLE.ref("id"),
            "policy": permissions.ref("json"),
        }),
        ACCESS.declare({
            "cluster_name": CLUSTER.ref("name"),
            "principal_arn": ROLE.ref("arn"),
        }),
        Resource("aws_eks_access_policy_association", "deploy").declare({
            "cluster_name": CLUSTER.ref("name"),
            "principal_arn": ACCESS.ref("principal_arn"),
            "policy_arn": stack_arn("eks", f"cluster-access-policy/{ACCESS_POLICY}", account="aws"),
            "access_scope": {"type": "cluster"},
        }),
        output("deploy_role_arn", ROLE.ref("arn"),
               f"The IAM role GitHub Actions deploys with ({env.deploy.role}); trusts {env.deploy.subject} only."),
    )
