"""The role GitHub Actions deploys with: assumed by OIDC, allowed to find this cluster and to edit the platform's
namespace, nothing else.

Created only when the spec names the repository (`delivery.repository`): a trust without a `sub` condition
would let any repository on GitHub deploy here, so with no repository there is no role, and the output says why.
"""

from __future__ import annotations

from bizinfra.plan import EnvironmentPlan
from bizinfra.targets.terraform.blocks import (
    Block,
    condition,
    merge,
    output,
    policy_document,
    principal,
    ref,
    resource,
    statement,
    variable,
)

GITHUB_ISSUER = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"  # what aws-actions/configure-aws-credentials asks GitHub's token for
# The deploy jobs set images, wait for rollouts, patch Service selectors, scale Deployments, exec into a pod for
# migrations and port-forward for smoke tests (docs/github.md). AmazonEKSEditPolicy allows exactly that family
# (Kubernetes' `edit` role: workloads, services, pods/exec, pods/portforward) and, unlike AmazonEKSAdminPolicy,
# no RBAC or ResourceQuota changes; scoped to the platform's namespace, it reaches nothing else in the cluster.
EDIT_POLICY = "AmazonEKSEditPolicy"


def deploy_role(env: EnvironmentPlan) -> Block:
    if env.deploy_subject is None:
        return output("deploy_role_arn", "not created: set delivery.repository (owner/name) in the spec so the role "
                      "trusts only that repository's deploy jobs", "The IAM role GitHub Actions deploys with.")
    account = ref("data.aws_caller_identity.current.account_id")
    partition = ref("data.aws_partition.current.partition")
    return merge(
        github_oidc_provider(env),
        policy_document("deploy_trust", [statement(
            ["sts:AssumeRoleWithWebIdentity"],
            principals=[principal("Federated", f"arn:{partition}:iam::{account}:oidc-provider/{GITHUB_ISSUER}")],
            conditions=[condition("StringEquals", f"{GITHUB_ISSUER}:aud", [AUDIENCE]),
                        condition("StringEquals", f"{GITHUB_ISSUER}:sub", [env.deploy_subject])],
        )]),
        resource("aws_iam_role", "deploy", {
            "name": env.deploy_role,
            "description": f"GitHub Actions deploys to {env.cluster_name} (jobs of {env.deploy_subject})",
            "assume_role_policy": ref("data.aws_iam_policy_document.deploy_trust.json"),
            "max_session_duration": 3600,
            "depends_on": ["aws_iam_openid_connect_provider.github"],  # when this stack creates it
        }),
        policy_document("deploy", [statement(
            ["eks:DescribeCluster"],
            [f"arn:{partition}:eks:{env.region}:{account}:cluster/"
             f"{env.cluster_name}"], sid="FindCluster")]),
        resource("aws_iam_role_policy", "deploy", {
            "name": "describe-cluster",
            "role": ref("aws_iam_role.deploy.id"),
            "policy": ref("data.aws_iam_policy_document.deploy.json"),
        }),
        resource("aws_eks_access_entry", "deploy", {
            "cluster_name": ref("aws_eks_cluster.main.name"),
            "principal_arn": ref("aws_iam_role.deploy.arn"),
        }),
        resource("aws_eks_access_policy_association", "deploy", {
            "cluster_name": ref("aws_eks_cluster.main.name"),
            "principal_arn": ref("aws_eks_access_entry.deploy.principal_arn"),
            "policy_arn": f"arn:{partition}:eks::aws:cluster-access-policy/"
                          f"{EDIT_POLICY}",
            "access_scope": {"type": "namespace", "namespaces": [env.namespace]},
        }),
        output("deploy_role_arn", ref("aws_iam_role.deploy.arn"),
               f"The IAM role GitHub Actions deploys with ({env.deploy_role}); trusts {env.deploy_subject} only."),
    )


def github_oidc_provider(env: EnvironmentPlan) -> Block:
    """IAM holds one provider per issuer URL per account, so when environments share an account only one stack may
    create it; the roles trust it by its ARN, which is fixed by the account and the URL, so no stack looks it up."""
    return merge(
        variable("create_github_oidc_provider", "bool",
                 "Whether this stack creates the account's GitHub Actions OIDC provider: true in exactly one stack "
                 "per AWS account, false where the account already has it (IAM allows one per URL).",
                 env.creates_github_oidc),
        # Since July 2023 IAM trusts GitHub's issuer through its own root CAs and ignores the thumbprint; the
        # attribute is optional (and computed) in both provider schemas, so none is pinned here.
        resource("aws_iam_openid_connect_provider", "github", {
            "count": "${var.create_github_oidc_provider ? 1 : 0}",
            "url": f"https://{GITHUB_ISSUER}",
            "client_id_list": [AUDIENCE],
        }),
    )
