"""Where the images live: with `registry: ecr`, one ECR repository per service and the role CI's build job pushes
with; with any other registry, the empty secret a person stores the read-only pull token in.

The repositories and the push role exist once per account, so only the owner stack makes them (the GitHub OIDC
provider they trust is the bootstrap stack's); the nodes of every stack pull by their role (AmazonEC2ContainerRegistryReadOnly,
cluster.py), which needs no token.
"""

from __future__ import annotations

import json

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
from bizinfra.targets.terraform.deploy import AUDIENCE, GITHUB_ISSUER
from bizinfra.targets.terraform.handles import ACCOUNT, KMS_KEY, Resource
from bizinfra.targets.terraform.secrets import secret

PUSH_ROLE = Resource("aws_iam_role", "image_push")
# What docker/build-push-action needs to push a multi-layer image (ECR user guide, "Pushing an image").
PUSH_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
                "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"]
UNTAGGED_DAYS = 7  # a build whose push failed halfway leaves untagged layers: gone after a week


def registry(env: EnvironmentPlan) -> Block:
    parts = [pull_token_secret(env)] if env.pull_secret else []
    if env.registry.ecr and env.registry.owner == env.name:
        parts += [repositories(env), push_role(env)]
    return merge(*parts)


def pull_token_secret(env: EnvironmentPlan) -> Block:
    """No value: a person stores `{"username": ..., "token": ...}` once (a read-only token of the registry); until
    then the pull Secret does not sync and the first deploy stops at its wait, saying so."""
    assert env.pull_secret
    return secret(env, Resource("aws_secretsmanager_secret", "registry"), env.pull_secret.credentials,
                  f"Read-only token the cluster pulls images from {env.pull_secret.host} with "
                  "(JSON: username, token); stored by a person", {"Name": env.pull_secret.credentials})


def repository(name: str) -> Resource:
    return Resource("aws_ecr_repository", name.rsplit("/", 1)[-1].replace("-", "_"))


def lifecycle_policy(keep: int) -> str:
    """Untagged leftovers go after a week; of the tagged images, the newest `keep` stay (ECR requires the rule over
    every image to come last)."""
    return json.dumps({"rules": [
        {"rulePriority": 1, "description": f"Untagged images after {UNTAGGED_DAYS} days",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                       "countNumber": UNTAGGED_DAYS},
         "action": {"type": "expire"}},
        {"rulePriority": 2, "description": f"Keep the newest {keep} images",
         "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
         "action": {"type": "expire"}},
    ]}, sort_keys=True)


def repositories(env: EnvironmentPlan) -> Block:
    """Immutable tags (a release's `sha-<commit>` always names what was tested), scanned on push, encrypted with the
    stack's key; emptied on destroy outside production."""
    parts = []
    for name in env.registry.repositories:
        handle = repository(name)
        parts += [
            handle.declare({
                "name": name,
                "image_tag_mutability": "IMMUTABLE",
                "image_scanning_configuration": {"scan_on_push": True},
                "encryption_configuration": {"encryption_type": "KMS", "kms_key": KMS_KEY.ref("arn")},
                "force_delete": not env.production,
                "tags": {"Name": name},
            }),
            Resource("aws_ecr_lifecycle_policy", handle.name).declare({
                "repository": handle.ref("name"),
                "policy": lifecycle_policy(env.registry.keep_images),
            }),
        ]
    parts.append(output("image_repositories", {name: repository(name).ref("repository_url")
                                               for name in env.registry.repositories},
                        "The ECR repository of each service, which CI pushes to and the nodes pull from."))
    return merge(*parts)


def push_role(env: EnvironmentPlan) -> Block:
    """Assumed by the build job on a deploy branch (its OIDC `sub` names the branch: the job has no environment);
    may push to exactly these repositories."""
    registry_ = env.registry
    if registry_.push_role is None:
        return output("image_push_role_arn", "not created: set delivery.repository (owner/name) in the spec so the "
                      "role trusts only that repository's build jobs", "The IAM role CI pushes images with.")
    account = ACCOUNT.ref("account_id")
    trust, permissions = iam_document("image_push_trust"), iam_document("image_push")
    return merge(
        policy_document(trust, [statement(
            ["sts:AssumeRoleWithWebIdentity"],
            principals=[principal("Federated", stack_arn("iam", f"oidc-provider/{GITHUB_ISSUER}", account=account))],
            conditions=[condition("StringEquals", f"{GITHUB_ISSUER}:aud", [AUDIENCE]),
                        condition("StringEquals", f"{GITHUB_ISSUER}:sub", list(registry_.push_subjects))],
        )]),
        PUSH_ROLE.declare({
            "name": registry_.push_role,
            "description": "GitHub Actions pushes the services' images to ECR",
            "assume_role_policy": trust.ref("json"),
            "max_session_duration": 3600,  # the account's GitHub OIDC provider is the bootstrap stack's
        }),
        policy_document(permissions, [
            statement(["ecr:GetAuthorizationToken"], ["*"], sid="SignIn"),  # not scoped by resource in IAM
            statement(PUSH_ACTIONS, [repository(name).ref("arn") for name in registry_.repositories],
                      sid="PushToOwnRepositories"),
        ]),
        Resource("aws_iam_role_policy", "image_push").declare({
            "name": "push-images",
            "role": PUSH_ROLE.ref("id"),
            "policy": permissions.ref("json"),
        }),
        output("image_push_role_arn", PUSH_ROLE.ref("arn"), f"The IAM role CI pushes images with ({registry_.push_role})."),
    )
