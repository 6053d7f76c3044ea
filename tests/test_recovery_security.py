"""Security defaults on the recovery path: the Kubernetes API endpoint limited to the spec's networks (in the
environment and its standby), and checkov's skips scoped to the environments their reasons hold for."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bizinfra.plan import EnvironmentPlan, resolve
from bizinfra.spec.loader import SpecError, load_platform
from bizinfra.targets.terraform import environment_files
from bizinfra.targets.terraform.bootstrap import compile_bootstrap
from bizinfra.targets.terraform.recovery import standby_files
from bizinfra.validate.terraform import CHECKOV_SKIPS, checkov_command, environment_skips, standby_skips
from tests.support import SPECS, require_tool


def production(tmp_path: Path, api_access: str | None) -> EnvironmentPlan:
    spec = tmp_path / "shop.yaml"
    line = f"    api_access: {api_access}\n" if api_access is not None else ""
    spec.write_text("name: shop\ndomain: shop.example.com\nregion: eu-west-1\nservices:\n  web: {port: 8080}\n"
                    "environments:\n  production:\n    branch: main\n    recovery: {region: eu-central-1}\n" + line)
    plan = resolve(load_platform(spec), "shop.yaml")
    return next(env for env in plan.environments if env.name == "production")


def endpoints(files: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = files["eks.tf.json"]["resource"]["aws_eks_cluster"]["main"]["vpc_config"]
    return {key: value for key, value in config.items() if key != "subnet_ids"}


@pytest.mark.parametrize(("api_access", "expected"), [
    (None, {"endpoint_private_access": True, "endpoint_public_access": True, "public_access_cidrs": ["0.0.0.0/0"]}),
    ("[8.8.4.0/24, 1.1.1.1/32]", {"endpoint_private_access": True, "endpoint_public_access": True,
                                  "public_access_cidrs": ["8.8.4.0/24", "1.1.1.1/32"]}),
    ("[]", {"endpoint_private_access": True, "endpoint_public_access": False}),
])
def test_the_api_endpoint_answers_the_declared_networks_here_and_in_the_standby(
        tmp_path: Path, api_access: str | None, expected: dict[str, Any]) -> None:
    env = production(tmp_path, api_access)
    assert endpoints(environment_files(env)) == expected
    assert endpoints(standby_files(env)) == expected


@pytest.mark.parametrize(("api_access", "expected"), [
    ("[10.0.0.0/8]", "shop.yaml:10:18: environments.production.api_access[0]: '10.0.0.0/8' is not a public network: "
                     "the public endpoint sees callers' public addresses (EKS refuses reserved blocks), and the VPC "
                     "reaches the private endpoint anyway"),
    ("[8.8.8.8/24]", "shop.yaml:10:18: environments.production.api_access[0]: '8.8.8.8/24' is not an IPv4 network "
                     "(address/prefix, no host bits): 8.8.8.8/24 has host bits set"),
])
def test_networks_the_endpoint_cannot_take_are_refused_at_their_line(tmp_path: Path, api_access: str,
                                                                      expected: str) -> None:
    with pytest.raises(SpecError) as error:
        production(tmp_path, api_access)
    assert [str(problem).removeprefix(f"{tmp_path}/") for problem in error.value.problems] == [expected]


# -- checkov's skips, per stack ---------------------------------------------------------------------------------------


def bundled_environments() -> dict[str, EnvironmentPlan]:
    return {env.name: env for env in resolve(load_platform(SPECS / "business-app.yaml"), "business-app.yaml").on(
        "kubernetes")}


def test_skips_whose_reason_holds_for_one_environment_name_it_and_apply_only_there() -> None:
    envs = bundled_environments()
    staging, production = environment_skips(envs["staging"]), environment_skips(envs["production"])
    for name, skips in (("staging", staging), ("production", production)):
        assert all(name in reason for check, reason in skips.items() if check not in CHECKOV_SKIPS)
    # What staging skips because it is disposable or single-zone, production is checked for.
    assert {"CKV_AWS_157", "CKV2_AWS_50", "CKV_AWS_293", "CKV_AWS_150"} <= set(staging) - set(production)
    assert "production" in production["CKV_AWS_144"] and "ap-southeast-1" in production["CKV_AWS_144"]
    assert "CKV2_AWS_5" in standby_skips(envs["production"]) and "CKV2_AWS_5" not in production


def test_a_production_violation_is_not_silenced_by_a_staging_reason(tmp_path: Path) -> None:
    """Production's database without deletion protection: staging skips that check, production must fail it."""
    require_tool("checkov")
    production = bundled_environments()["production"]
    datastores = environment_files(production)["datastores.tf.json"]
    datastores["resource"]["aws_db_instance"]["postgres"]["deletion_protection"] = False
    folder = tmp_path / "production"
    folder.mkdir()
    (folder / "datastores.tf.json").write_text(json.dumps(datastores))
    result = subprocess.run(checkov_command(folder, environment_skips(production)), capture_output=True, text=True,
                            timeout=300, env={**os.environ, "CKV_PARSE_ERROR_FAIL": "true", "LOG_LEVEL": "WARNING",
                                              "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"})
    failed = [check["check_id"] for check in json.loads(result.stdout)["results"]["failed_checks"]]
    assert failed == ["CKV_AWS_293"]


# -- the bootstrap roles reach the standby's state ------------------------------------------------------------------


def bootstrap_documents() -> dict[str, Any]:
    plan = resolve(load_platform(SPECS / "business-app.yaml"), "business-app.yaml")
    return {artifact.path.rsplit("/", 1)[-1]: artifact.documents[0] for artifact in compile_bootstrap(plan)
            if artifact.path.endswith(".json")}


def statements(document: dict[str, Any], name: str) -> dict[str, Any]:
    return {s["sid"]: s for s in document["data"]["aws_iam_policy_document"][name]["statement"]}


def test_production_roles_read_and_write_the_standby_state_and_manage_what_it_tags() -> None:
    roles = bootstrap_documents()["roles.tf.json"]
    state = "${aws_s3_bucket.state.arn}/business-app/production-standby/terraform.tfstate"
    infrastructure = statements(roles, "production_infrastructure")
    assert state in infrastructure["ReadAndWriteState"]["resources"]
    assert f"{state}.tflock" in infrastructure["Lock"]["resources"]
    assert "production-standby" in infrastructure["NotOtherEnvironments"]["condition"][1]["values"]
    for role in ("production_plan", "production_drift"):
        assert state in statements(roles, role)["ReadState"]["resources"]
    assert all(state not in s["resources"] for s in statements(roles, "staging_infrastructure").values())


def test_only_production_roles_reach_the_standby_state_prefix() -> None:
    bucket = statements(bootstrap_documents()["main.tf.json"], "state_bucket")["OnlyItsRolesReachProductionStandbyState"]
    assert bucket["resources"] == ["${aws_s3_bucket.state.arn}/business-app/production-standby/*"]
    denied = bucket["condition"][0]["values"]
    assert denied and all("business-app-staging-" in arn for arn in denied)


# -- the public hosts fail over to the second region -----------------------------------------------------------------


def kinds(files: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for document in files.values():
        found.update((document.get("resource") or {}).get(kind, {}))
    return found


def test_cloudfront_reaches_a_name_route_53_fails_over_to_the_standby_load_balancer() -> None:
    production = bundled_environments()["production"]
    here, there = environment_files(production), standby_files(production)
    origin = "origin-production.business-app.com"
    assert kinds(here, "aws_cloudfront_distribution")["edge"]["origin"][0]["domain_name"] == origin
    primary, secondary = kinds(here, "aws_route53_record")["origin_primary"], \
        kinds(there, "aws_route53_record")["origin_secondary"]
    assert (primary["name"], primary["failover_routing_policy"], primary["alias"]["name"]) == \
        (origin, {"type": "PRIMARY"}, "${aws_lb.public.dns_name}")
    assert (secondary["name"], secondary["failover_routing_policy"], secondary["alias"]["name"]) == \
        (origin, {"type": "SECONDARY"}, "${aws_lb.public.dns_name}")
    assert primary["set_identifier"] != secondary["set_identifier"]
    # The primary is healthy while any public service has a healthy target here (one service down is not a
    # region down), and not without data.
    checks = kinds(here, "aws_route53_health_check")
    public = [service.name for service in production.services if service.public_host]
    assert primary["health_check_id"] == "${aws_route53_health_check.origin.id}"
    assert len(checks["origin"]["child_healthchecks"]) == len(public)
    assert checks["origin"]["child_health_threshold"] == 1
    for service in public:
        check = checks[f"origin_{service.replace('-', '_')}"]
        assert (check["type"], check["insufficient_data_health_status"]) == ("CLOUDWATCH_METRIC", "Unhealthy")
        alarm = kinds(here, "aws_cloudwatch_metric_alarm")[f"origin_{service.replace('-', '_')}"]
        assert (alarm["metric_name"], alarm["treat_missing_data"]) == ("HealthyHostCount", "breaching")


def test_one_public_service_down_is_not_a_region_down(tmp_path: Path) -> None:
    """Two public services: the origin stays in this region while either has a healthy target; only when neither
    has (or CloudWatch here is silent) does Route 53 send both hosts to the standby."""
    spec = tmp_path / "tasks.yaml"
    spec.write_text((SPECS / "tasks.yaml").read_text().replace(
        "    rollout: blue-green\n", "    rollout: blue-green\n    recovery: {region: eu-west-1}\n", 1))
    plan = resolve(load_platform(spec), "tasks.yaml")
    env = next(env for env in plan.environments if env.name == "production")
    checks = environment_files(env)["public.tf.json"]["resource"]["aws_route53_health_check"]
    children = [f"${{aws_route53_health_check.origin_{service.name.replace('-', '_')}.id}}"
                for service in env.services if service.public_host]
    assert len(children) == 2
    assert sorted(checks["origin"]["child_healthchecks"]) == sorted(children)
    assert checks["origin"]["child_health_threshold"] == 1


def test_the_standby_load_balancer_matches_the_environments_by_name_and_header() -> None:
    production = bundled_environments()["production"]
    here, there = environment_files(production), standby_files(production)
    # Same target group names: the manifests restored there bind their pods by name.
    assert {g["name"] for g in kinds(there, "aws_lb_target_group").values()} == \
        {g["name"] for g in kinds(here, "aws_lb_target_group").values()}
    header = "${data.aws_secretsmanager_secret_version.origin_verify.secret_string}"
    for rule in kinds(there, "aws_lb_listener_rule").values():
        assert {"http_header": {"http_header_name": "X-Origin-Verify", "values": [header]}} in rule["condition"]
    secret = kinds(here, "aws_secretsmanager_secret")["origin_verify"]
    assert secret["replica"] == [{"region": "ap-southeast-1", "kms_key_id": "${aws_kms_key.standby.arn}"}]
    assert there["public.tf.json"]["data"]["aws_secretsmanager_secret_version"]["origin_verify"]["secret_id"] == \
        secret["name"]


def test_without_a_second_region_cloudfront_reaches_the_load_balancer_itself() -> None:
    staging = bundled_environments()["staging"]
    files = environment_files(staging)
    assert kinds(files, "aws_cloudfront_distribution")["edge"]["origin"][0]["domain_name"] == \
        "${aws_lb.public.dns_name}"
    assert kinds(files, "aws_route53_health_check") == {}
    assert "replica" not in kinds(files, "aws_secretsmanager_secret")["origin_verify"]
