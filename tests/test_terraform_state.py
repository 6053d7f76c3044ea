"""The state bootstrap, the provider pin and stacks that come and go: over random platforms."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given

from bizinfra.plan import BOOTSTRAP_STACK, resolve
from bizinfra.spec.models import Delivery, Platform
from bizinfra.targets.terraform import environment_files
from bizinfra.targets.terraform.bootstrap import compile_bootstrap
from bizinfra.targets.terraform.settings import AWS_PROVIDER_PINNED, AWS_PROVIDER_VERSION, AWS_PROVIDER_VERSIONS
from bizinfra.validate.terraform import SCHEMA_VERSIONS, check_folder, load_schema
from tests.strategies import platforms
from tests.support import bundled_platform


def blocks(files: dict[str, Any], section: str, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for document in files.values():
        found.update((document.get(section) or {}).get(kind, {}))
    return found


def bootstrap_files(platform: Platform) -> dict[str, Any]:
    return {a.path.rsplit("/", 1)[-1]: a.documents[0] for a in compile_bootstrap(resolve(platform, "spec.yaml"))
            if a.path.endswith(".json")}


def test_the_constraint_admits_only_the_pinned_version_every_judge_runs() -> None:
    assert f"= {AWS_PROVIDER_PINNED}" == AWS_PROVIDER_VERSION
    assert AWS_PROVIDER_PINNED in AWS_PROVIDER_VERSIONS
    assert tuple(AWS_PROVIDER_VERSIONS) == SCHEMA_VERSIONS
    for version in SCHEMA_VERSIONS:
        assert load_schema(version).version == version


@given(platforms(max_services=2))
def test_every_stack_keeps_its_state_in_the_bootstraps_bucket_under_its_own_key(platform: Platform) -> None:
    platform = platform.model_copy(update={"delivery": Delivery(repository="acme/shop")})
    envs = resolve(platform, "spec.yaml").on("kubernetes")
    bootstrap = bootstrap_files(platform)
    if not envs:
        assert bootstrap == {}
        return
    backends = [bootstrap["versions.tf.json"]["terraform"]["backend"]["s3"]]
    for env in envs:
        terraform = environment_files(env)["versions.tf.json"]["terraform"]
        assert terraform["required_providers"]["aws"]["version"] == AWS_PROVIDER_VERSION
        backends.append(terraform["backend"]["s3"])
        assert backends[-1]["key"] == env.deploy.state_key
    assert {(b["bucket"], b["region"], b["encrypt"], b["use_lockfile"]) for b in backends} == \
        {(envs[0].deploy.state_bucket, envs[0].region, True, True)}
    assert len({b["key"] for b in backends}) == len(backends)
    assert "dynamodb" not in json.dumps(backends)
    bucket = blocks(bootstrap, "resource", "aws_s3_bucket")["state"]
    assert (bucket["bucket"], bucket["force_destroy"]) == (envs[0].deploy.state_bucket, False)
    assert blocks(bootstrap, "resource", "aws_s3_bucket_versioning")["state"]["versioning_configuration"] == \
        {"status": "Enabled"}
    assert all(blocks(bootstrap, "resource", "aws_s3_bucket_public_access_block")["state"][setting] is True
               for setting in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                               "restrict_public_buckets"))
    policy = blocks(bootstrap, "data", "aws_iam_policy_document")["state_bucket"]["statement"]
    assert policy[0]["sid"] == "TlsOnly" and policy[0]["effect"] == "Deny"
    for version in SCHEMA_VERSIONS:
        assert check_folder(bootstrap, load_schema(version)) == []


@given(platforms(max_services=2))
def test_each_infrastructure_role_trusts_its_environments_jobs_and_reaches_only_its_state(platform: Platform) -> None:
    platform = platform.model_copy(update={"delivery": Delivery(repository="acme/shop")})
    envs = resolve(platform, "spec.yaml").on("kubernetes")
    bootstrap = bootstrap_files(platform)
    documents = blocks(bootstrap, "data", "aws_iam_policy_document")
    roles = blocks(bootstrap, "resource", "aws_iam_role")
    bucket_policy = json.dumps(documents.get("state_bucket", {}))
    for env in envs:
        label = env.name.replace("-", "_")
        drift = [("drift", env.deploy.drift_role, f"repo:acme/shop:ref:refs/heads/{env.deploy.drift_branch}")]
        for kind, role_name, subject in [("infrastructure", env.deploy.infra_role, env.deploy.subject),
                                         ("plan", env.deploy.plan_role, "repo:acme/shop:pull_request"),
                                         *(drift if env.deploy.drift_branch else [])]:
            assert roles[f"{label}_{kind}"]["name"] == role_name
            (trust,) = documents[f"{label}_{kind}_trust"]["statement"]
            assert [c["values"] for c in trust["condition"] if c["variable"].endswith(":sub")] == [[subject]]
            state = [r for s in documents[f"{label}_{kind}"]["statement"] if s["effect"] == "Allow"
                     for r in s["resources"] if r.startswith("${aws_s3_bucket.state.arn}/")]
            assert {r.removeprefix("${aws_s3_bucket.state.arn}/").removesuffix(".tflock") for r in state} == \
                {env.deploy.state_key, env.deploy.addons_state_key,
                 *([env.recovery.standby.state_key] if env.recovery.standby else [])}  # the standby stack's too
            assert role_name in bucket_policy or len(envs) == 1  # denied every state but its own
        plan_allows = [a for s in documents[f"{label}_plan"]["statement"] if s["effect"] == "Allow"
                       for a in s["actions"]]
        assert plan_allows == ["s3:ListBucket", "s3:GetObject"]  # reads only, takes no lock
        if env.deploy.drift_branch:  # reads, and this environment's secret values only
            drift = documents[f"{label}_drift"]["statement"]
            assert [a for s in drift if s["effect"] == "Allow" for a in s["actions"]] == [
                "s3:ListBucket", "s3:GetObject", "secretsmanager:GetSecretValue", "kms:Decrypt"]
            assert all(s["condition"][0]["values"] == [env.name] for s in drift if "secretsmanager" in str(s))
        else:
            assert f"{label}_drift" not in roles
    assert f"/{platform.name}/{BOOTSTRAP_STACK}/*" in bucket_policy or not envs


@given(platforms(max_services=2))
def test_the_drift_role_and_only_it_may_read_the_cluster_of_each_environment(platform: Platform) -> None:
    """The drift check refreshes the add-ons' Helm releases, kept as Secrets in the cluster: the drift role gets an
    access entry that reads them; the plan role, which never refreshes, gets none."""
    platform = platform.model_copy(update={"delivery": Delivery(repository="acme/shop")})
    bootstrap_roles = {role["name"] for role in blocks(bootstrap_files(platform), "resource", "aws_iam_role").values()}
    for env in resolve(platform, "spec.yaml").on("kubernetes"):
        files = environment_files(env)
        entries = blocks(files, "resource", "aws_eks_access_entry")
        principals = json.dumps(entries)
        assert env.deploy.plan_role not in principals
        if env.deploy.drift_branch is None:
            assert "drift" not in entries
            continue
        assert entries["drift"]["principal_arn"].endswith(f":role/{env.deploy.drift_role}")
        assert env.deploy.drift_role in bootstrap_roles
        association = blocks(files, "resource", "aws_eks_access_policy_association")["drift"]
        assert association["policy_arn"].endswith("cluster-access-policy/AmazonEKSAdminViewPolicy")
        assert association["access_scope"] == {"type": "cluster"}


@given(platforms(max_services=3))
def test_outside_production_stacks_come_and_go_and_production_keeps_its_protection(platform: Platform) -> None:
    for env in resolve(platform, "spec.yaml").on("kubernetes"):
        files = environment_files(env)
        production = env.production
        assert {b["force_destroy"] for b in blocks(files, "resource", "aws_s3_bucket").values()} == {not production}
        assert {s["recovery_window_in_days"] for s in blocks(files, "resource", "aws_secretsmanager_secret").values()} \
            <= {30 if production else 0}
        assert blocks(files, "resource", "aws_kms_key")["main"]["deletion_window_in_days"] == (30 if production else 7)
        for database in blocks(files, "resource", "aws_db_instance").values():
            assert (database["deletion_protection"], database["skip_final_snapshot"]) == (production, not production)
            assert ("final_snapshot_identifier" in database) == production
        for cache in blocks(files, "resource", "aws_elasticache_replication_group").values():
            assert ("final_snapshot_identifier" in cache) == production
        for balancer in blocks(files, "resource", "aws_lb").values():
            assert balancer["enable_deletion_protection"] == production


def test_no_environment_may_be_named_like_the_bootstrap_stack() -> None:
    import pytest

    from bizinfra.spec.loader import SpecError, parse_spec

    text = "name: shop\ndomain: shop.example.com\nservices: {web: {port: 8080}}\n" \
           "environments: {bootstrap: {runs_on: kubernetes}}\n"
    with pytest.raises(SpecError, match="bootstrap stack"):
        parse_spec(text, "specs/shop.yaml")
    assert bundled_platform()  # the bundled spec is unaffected
