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
    return merge(
        # Since July 2023 IAM trusts GitHub's issuer through its own root CAs and ignores the thumbprint; the
        # attribute is optional (and computed) in both provider schemas, so none is pinned here.
        resource("aws_iam_openid_connect_provider", "github", {
            "url": f"https://{GITHUB_ISSUER}",
            "client_id_list": [AUDIENCE],
        }),
        policy_document("deploy_trust", [statement(
            ["sts:AssumeRoleWithWebIdentity"],
            principals=[principal("Federated", ref("aws_iam_openid_connect_provider.github.arn"))],
            conditions=[condition("StringEquals", f"{GITHUB_ISSUER}:aud", [AUDIENCE]),
                        condition("StringEquals", f"{GITHUB_ISSUER}:sub", [env.deploy_subject])],
        )]),
        resource("aws_iam_role", "deploy", {
            "name": env.deploy_role,
            "description": f"GitHub Actions deploys to {env.cluster_name} (jobs of {env.deploy_subject})",
            "assume_role_policy": ref("data.aws_iam_policy_document.deploy_trust.json"),
            "max_session_duration": 3600,
        }),
        policy_document("deploy", [statement(
            ["eks:DescribeCluster"],
            [f"arn:{ref('data.aws_partition.current.partition')}:eks:{env.region}:{account}:cluster/"
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
            "policy_arn": f"arn:{ref('data.aws_partition.current.partition')}:eks::aws:cluster-access-policy/"
                          f"{EDIT_POLICY}",
            "access_scope": {"type": "namespace", "namespaces": [env.namespace]},
        }),
        output("deploy_role_arn", ref("aws_iam_role.deploy.arn"),
               f"The IAM role GitHub Actions deploys with ({env.deploy_role}); trusts {env.deploy_subject} only."),
    )
