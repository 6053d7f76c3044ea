"""The role GitHub Actions deploys with: assumed by OIDC, allowed to find this cluster and to apply the environment's
manifests to it, nothing else in AWS.

Created only when the spec names the repository (`delivery.repository`): a trust without a `sub` condition
would let any repository on GitHub deploy here, so with no repository there is no role, and the output says why.
"""

from __future__ import annotations

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
    variable,
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
ROLE = Resource("aws_iam_role", "deploy")
ACCESS = Resource("aws_eks_access_entry", "deploy")
GITHUB_PROVIDER = Resource("aws_iam_openid_connect_provider", "github")


def deploy_role(env: EnvironmentPlan) -> Block:
    if env.deploy.subject is None:
        return output("deploy_role_arn", "not created: set delivery.repository (owner/name) in the spec so the role "
                      "trusts only that repository's deploy jobs", "The IAM role GitHub Actions deploys with.")
    account = ACCOUNT.ref("account_id")
    trust, permissions = iam_document("deploy_trust"), iam_document("deploy")
    return merge(
        github_oidc_provider(env),
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
            "max_session_duration": 3600,
            "depends_on": [GITHUB_PROVIDER.address],  # when this stack creates it
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


def github_oidc_provider(env: EnvironmentPlan) -> Block:
    """IAM holds one provider per issuer URL per account, so when environments share an account only one stack may
    create it; the roles trust it by its ARN, which is fixed by the account and the URL, so no stack looks it up."""
    return merge(
        variable("create_github_oidc_provider", "bool",
                 "Whether this stack creates the account's GitHub Actions OIDC provider: true in exactly one stack "
                 "per AWS account, false where the account already has it (IAM allows one per URL).",
                 env.deploy.creates_github_oidc),
        # Since July 2023 IAM trusts GitHub's issuer through its own root CAs and ignores the thumbprint; the
        # attribute is optional (and computed) in both provider schemas, so none is pinned here.
        GITHUB_PROVIDER.declare({
            "count": "${var.create_github_oidc_provider ? 1 : 0}",
            "url": f"https://{GITHUB_ISSUER}",
            "client_id_list": [AUDIENCE],
        }),
    )
