"""After a region failover the services can use their data: every secret their ExternalSecrets read has a replica in
the second region, by the same name, under the replicas' key, and every role that reads data (a service's buckets,
External Secrets, Velero) reaches the replicas there. None of it without a second region."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bizinfra.naming import EXTERNAL_SECRETS, VELERO
from bizinfra.plan import EnvironmentPlan, resolve
from bizinfra.spec.loader import load_platform
from bizinfra.spec.models import Platform
from bizinfra.targets.ops.recovery import failover_page
from bizinfra.targets.terraform import environment_files
from bizinfra.targets.terraform.handles import identity_role
from bizinfra.targets.terraform.recovery import standby_files
from tests.strategies import platform_specs
from tests.support import SPECS
from tests.support.kubernetes import Document, environments, of_kind, rendered

STANDBY_KEY = "${aws_kms_key.standby.arn}"


def declared(files: dict[str, Any], section: str, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for document in files.values():
        found.update((document.get(section) or {}).get(kind, {}))
    return found


def read_keys(documents: list[Document]) -> set[str]:
    """The Secrets Manager names the cluster's ExternalSecrets read."""
    keys = set()
    for external in of_kind(documents, "ExternalSecret"):
        spec = external["spec"]
        keys |= {item["remoteRef"]["key"] for item in spec.get("data", [])}
        keys |= {item["extract"]["key"] for item in spec.get("dataFrom", []) if "extract" in item}
    return keys


def statements(files: dict[str, Any], role_label: str) -> list[dict[str, Any]]:
    document: list[dict[str, Any]] = declared(files, "data", "aws_iam_policy_document")[role_label]["statement"]
    return document


def granted(found: list[dict[str, Any]], action: str) -> set[str]:
    return {arn for each in found if action in each["actions"] for arn in each.get("resources", [])}


def via(found: list[dict[str, Any]], key: str) -> set[str]:
    """The services a key is granted through (kms:ViaService), for the statements that grant it."""
    return {value for each in found if key in each.get("resources", []) for test in each.get("condition", [])
            if test["variable"] == "kms:ViaService" for value in test["values"]}


def check_secrets(env: EnvironmentPlan, files: dict[str, Any], documents: list[Document]) -> None:
    by_name = {body["name"]: body for body in declared(files, "resource", "aws_secretsmanager_secret").values()}
    # What the stack does not declare (RDS names and manages the master secret) is not read by an ExternalSecret.
    assert read_keys(documents) <= set(by_name)
    standby = env.recovery.standby
    for name, body in by_name.items():
        expected = [{"region": standby.region, "kms_key_id": STANDBY_KEY}] if standby else None
        assert body.get("replica") == expected, name
    reader = statements(files, identity_role(EXTERNAL_SECRETS).name)
    regions = [env.region, *([standby.region] if standby else [])]
    assert granted(reader, "secretsmanager:GetSecretValue") == {
        f"arn:${{data.aws_partition.current.partition}}:secretsmanager:{region}:"
        f"${{data.aws_caller_identity.current.account_id}}:secret:{env.platform}/{env.name}/*" for region in regions}
    if standby:
        assert via(reader, STANDBY_KEY) == {f"secretsmanager.{standby.region}.amazonaws.com"}
    else:
        assert not via(reader, STANDBY_KEY)


def check_roles(env: EnvironmentPlan, files: dict[str, Any]) -> None:
    standby = env.recovery.standby
    for service in env.services:
        if not (service.identity and service.buckets):
            continue
        found = statements(files, identity_role(service.identity.name).name)
        labels = [f"app_{bucket.replace('-', '_')}" for bucket in service.buckets]
        replicas = [f"{label}_replica" for label in labels] if standby else []
        arns = {f"${{aws_s3_bucket.{label}.arn}}" for label in labels + replicas}
        assert granted(found, "s3:ListBucket") == arns, service.name
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
            assert granted(found, action) == {f"{arn}/*" for arn in arns}, (service.name, action)
        assert via(found, "${aws_kms_key.main.arn}") == {f"s3.{env.region}.amazonaws.com"}
        assert via(found, STANDBY_KEY) == ({f"s3.{standby.region}.amazonaws.com"} if standby else set())
    backups = statements(files, identity_role(VELERO).name)
    expected = {"${aws_s3_bucket.backups.arn}", *(["${aws_s3_bucket.backups_replica.arn}"] if standby else [])}
    assert granted(backups, "s3:ListBucket") == expected
    assert (STANDBY_KEY in granted(backups, "kms:Decrypt")) == (standby is not None)


@st.composite
def platforms_with_or_without_a_second_region(draw: st.DrawFn) -> Platform:
    """Random platforms, their environments given a second region half the time (the platforms' own strategy
    names one rarely); the platforms run in none of these regions."""
    spec = draw(platform_specs(max_services=3))
    region = draw(st.sampled_from([None, "eu-central-1", "ap-southeast-1"]))
    if region:
        for environment in (spec.get("environments") or {}).values():
            environment["recovery"] = {**(environment.get("recovery") or {}), "region": region}
    return Platform.model_validate(spec)


def check_standby_identities(env: EnvironmentPlan) -> None:
    """The standby cluster gives every workload the environment's role, on the same ServiceAccount, through the Pod
    Identity agent there: the roles that reach the replicas are the ones its pods run as."""
    site = standby_files(env)
    if not env.recovery.standby:
        assert site == {}
        return
    workloads = [*env.identities, *(b.identity for b in env.database_bootstraps),
                 *(service.identity for service in env.services if service.identity)]
    associations = declared(site, "resource", "aws_eks_pod_identity_association")
    assert {(a["namespace"], a["service_account"], a["role_arn"].rsplit(":", 1)[-1])
            for a in associations.values()} == {(w.namespace, w.service_account, f"role/{w.role_name}")
                                                for w in workloads}
    assert all(a["depends_on"] == ["aws_eks_addon.eks_pod_identity_agent"] for a in associations.values())
    assert declared(site, "resource", "aws_eks_addon")["eks_pod_identity_agent"]["addon_name"] == \
        "eks-pod-identity-agent"


def check_failover_data(platform: Platform) -> None:
    plan = resolve(platform, "spec.yaml")
    manifests = environments(rendered(platform))
    for env in plan.on("kubernetes"):
        files = environment_files(env)
        check_secrets(env, files, manifests[env.name])
        check_roles(env, files)
        check_standby_identities(env)


def test_the_bundled_production_fails_over_with_its_secrets_and_buckets() -> None:
    platform = load_platform(SPECS / "business-app.yaml")
    assert any(env.recovery.standby for env in resolve(platform, "spec.yaml").environments)
    check_failover_data(platform)


@settings(max_examples=10)
@given(platforms_with_or_without_a_second_region())
def test_random_platforms_fail_over_with_their_secrets_and_buckets(platform: Platform) -> None:
    check_failover_data(platform)


def test_the_failover_runbook_repoints_each_bucket_user_to_the_replicas() -> None:
    """The replicas' names differ from the buckets': each user's ConfigMap is patched to them and the standby's
    region; the secrets keep their names, so the runbook repoints none."""
    plan = resolve(load_platform(SPECS / "business-app.yaml"), "spec.yaml")
    (env,) = [env for env in plan.on("kubernetes") if env.recovery.standby]
    assert env.recovery.standby and env.buckets
    page = failover_page((env,))
    for bucket in env.buckets:
        for user in bucket.users:
            (patch,) = [line for line in page.splitlines() if f"patch configmap {user}-config" in line]
            data = json.loads(patch.split("--patch ", 1)[1].strip("'"))["data"]
            assert data == {"AWS_REGION": env.recovery.standby.region, bucket.variable: bucket.replica}
    assert f"under the same name (`{env.platform}/{env.name}/...`)" in page
