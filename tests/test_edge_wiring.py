"""The wiring other targets rely on: the deploy role the workflows assume, NetworkPolicy enforcement on EKS, and
the container user the images and the pods share."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given

from bizinfra.plan import DOCKERFILE, EnvironmentPlan, resolve
from bizinfra.spec.loader import load_platform
from bizinfra.spec.models import Delivery, Platform
from bizinfra.targets.compose import compile_compose
from bizinfra.targets.kubernetes import compile_kubernetes
from bizinfra.targets.terraform import environment_files
from bizinfra.targets.terraform.bootstrap import compile_bootstrap
from bizinfra.validate.terraform import SCHEMA_VERSIONS, check_folder, load_schema
from tests.strategies import platforms
from tests.support import SPECS

REPOSITORY = "acme/business"


def with_repository(platform: Platform, repository: str | None) -> Platform:
    delivery = Delivery.model_validate({**platform.delivery.model_dump(), "repository": repository})
    return Platform.model_validate({**platform.model_dump(), "delivery": delivery.model_dump()})


def kubernetes_environments(platform: Platform) -> tuple[EnvironmentPlan, ...]:
    return resolve(platform, "spec.yaml").on("kubernetes")


def found(files: dict[str, Any], section: str, kind: str) -> dict[str, Any]:
    named: dict[str, Any] = {}
    for document in files.values():
        named.update((document.get(section) or {}).get(kind, {}))
    return named


def bundled() -> Platform:
    return load_platform(SPECS / "business-app.yaml")


def test_the_deploy_role_trusts_only_its_environments_jobs_and_edits_only_the_namespace() -> None:
    for env in kubernetes_environments(with_repository(bundled(), REPOSITORY)):
        files = environment_files(env)
        role = found(files, "resource", "aws_iam_role")["deploy"]
        assert role["name"] == env.deploy.role == f"business-app-{env.name}-deploy"
        (trust,) = found(files, "data", "aws_iam_policy_document")["deploy_trust"]["statement"]
        conditions = {(c["test"], c["variable"]): c["values"] for c in trust["condition"]}
        assert conditions == {
            ("StringEquals", "token.actions.githubusercontent.com:sub"): [f"repo:{REPOSITORY}:environment:{env.name}"],
            ("StringEquals", "token.actions.githubusercontent.com:aud"): ["sts.amazonaws.com"],
        }
        assert "github" not in found(files, "resource", "aws_iam_openid_connect_provider")  # the bootstrap makes it
        (allowed,) = found(files, "data", "aws_iam_policy_document")["deploy"]["statement"]
        assert allowed["actions"] == ["eks:DescribeCluster"]
        assert [r.rsplit("/", 1)[-1] for r in allowed["resources"]] == [env.cluster_name]
        association = found(files, "resource", "aws_eks_access_policy_association")["deploy"]
        assert association["policy_arn"].endswith(":cluster-access-policy/AmazonEKSClusterAdminPolicy")
        assert association["access_scope"] == {"type": "cluster"}  # it applies the Namespace and cluster objects
        for version in SCHEMA_VERSIONS:
            assert check_folder(files, load_schema(version)) == []


def test_without_a_repository_no_role_trusts_github() -> None:
    for env in kubernetes_environments(with_repository(bundled(), None)):
        files = environment_files(env)
        assert "deploy" not in found(files, "resource", "aws_iam_role")
        assert "github" not in found(files, "resource", "aws_iam_openid_connect_provider")
        assert "delivery.repository" in files["deploy.tf.json"]["output"]["deploy_role_arn"]["value"]
        assert "token.actions.githubusercontent.com" not in json.dumps(files)


@given(platforms(max_services=3))
def test_deploy_roles_of_random_platforms_check_and_trust_one_subject_each(platform: Platform) -> None:
    for env in kubernetes_environments(with_repository(platform, REPOSITORY)):
        files = environment_files(env)
        trust = json.dumps(found(files, "data", "aws_iam_policy_document")["deploy_trust"])
        assert re.findall(r"repo:[^\"]*", trust) == [env.deploy.subject]
        assert check_folder(files, load_schema(SCHEMA_VERSIONS[-1])) == []


@given(platforms(max_services=2))
def test_the_bootstrap_creates_the_accounts_github_provider_and_every_role_trusts_it_by_its_fixed_arn(
        platform: Platform) -> None:
    # IAM holds one OIDC provider per URL per account: the platform's bootstrap stack makes it, before any
    # environment's stack, so whichever environment comes first finds it.
    platform = with_repository(platform, REPOSITORY)
    bootstrap = {artifact.path: artifact.documents[0] for artifact in compile_bootstrap(resolve(platform, "spec.yaml"))
                 if artifact.path.endswith(".json")}
    if not kubernetes_environments(platform):
        assert bootstrap == {}
        return
    provider = found(bootstrap, "resource", "aws_iam_openid_connect_provider")["github"]
    assert provider["url"] == "https://token.actions.githubusercontent.com"
    assert provider["count"] == "${var.create_github_oidc_provider ? 1 : 0}"
    fixed_arn = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}"
                 ":oidc-provider/token.actions.githubusercontent.com"]
    trusts = [document for name, document in found(bootstrap, "data", "aws_iam_policy_document").items()
              if name.endswith("_trust")]
    for env in kubernetes_environments(platform):
        files = environment_files(env)
        assert "github" not in found(files, "resource", "aws_iam_openid_connect_provider")
        trusts.append(found(files, "data", "aws_iam_policy_document")["deploy_trust"])
    drift = sum(1 for env in resolve(platform, "spec.yaml").on("kubernetes") if env.deploy.drift_branch)
    assert len(trusts) == 3 * len(kubernetes_environments(platform)) + drift  # deploy, infrastructure, plan, drift
    for trust in trusts:
        (statement,) = trust["statement"]
        (principal,) = statement["principals"]
        assert principal["identifiers"] == fixed_arn


@given(platforms(max_services=2))
def test_vpc_cni_enforces_network_policies_wherever_kubernetes_runs(platform: Platform) -> None:
    for env in kubernetes_environments(platform):
        addon = found(environment_files(env), "resource", "aws_eks_addon")["vpc_cni"]
        assert json.loads(addon["configuration_values"])["enableNetworkPolicy"] == "true"


@given(platforms(max_services=3))
def test_images_run_as_the_user_the_pods_run_as(platform: Platform) -> None:
    plan = resolve(platform, "spec.yaml")
    users = set()
    for artifact in compile_compose(plan):
        if artifact.path == DOCKERFILE:
            (text,) = artifact.documents
            (user,) = set(re.findall(r"^USER (\d+):(\d+)$", text, re.MULTILINE))  # the app's and migrations' stages
            users.add(user)
            assert re.search(rf"adduser .*-u {user[0]} ", text)
    pods = set()
    for artifact in compile_kubernetes(plan):
        for document in artifact.documents:
            if isinstance(document, dict) and document.get("kind") == "Deployment":
                context = document["spec"]["template"]["spec"]["securityContext"]
                pods.add((str(context["runAsUser"]), str(context["runAsGroup"])))
    assert len(users) == 1
    assert pods in (set(), users)


@given(platforms(max_services=3))
def test_services_are_told_to_use_tls_exactly_where_terraform_requires_it(platform: Platform) -> None:
    plan = resolve(platform, "spec.yaml")
    for env in plan.environments:
        required: dict[str, bool] = {}
        if env.runs_on == "kubernetes":
            files = environment_files(env)
            for name, group in found(files, "resource", "aws_elasticache_replication_group").items():
                required[name] = group["transit_encryption_enabled"] is True
            for name, parameters in found(files, "resource", "aws_db_parameter_group").items():
                required[name] = {"name": "rds.force_ssl", "value": "1"} in parameters["parameter"]
        for service in env.services:
            for store in (s for s in env.datastores if s.name in service.uses):
                assert env.service_config(service)[f"{store.env_prefix}_TLS"] == ("true" if required.get(store.name) else "false")

