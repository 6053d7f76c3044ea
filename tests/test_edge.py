"""The edge (CloudFront, WAF, Route 53, ACM, the Terraform-owned load balancer) and node elasticity, judged by the
provider schemas and checked across targets on random platforms."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bizinfra.plan import EnvironmentPlan, resolve
from bizinfra.spec.loader import load_platform
from bizinfra.spec.models import Platform
from bizinfra.targets.kubernetes import compile_kubernetes
from bizinfra.targets.terraform import environment_files
from bizinfra.validate.terraform import SCHEMA_VERSIONS, check_folder, load_schema, unchecked
from tests.strategies import platforms
from tests.support import SPECS

ARN_OF_ACL = "${aws_wafv2_web_acl.edge.arn}"


def found(files: dict[str, Any], kind: str, section: str = "resource") -> dict[str, Any]:
    named: dict[str, Any] = {}
    for document in files.values():
        named.update((document.get(section) or {}).get(kind, {}))
    return named


def edited(platform: Platform, **changes: Any) -> Platform:
    return Platform.model_validate({**platform.model_dump(), **changes})


def kubernetes_envs(platform: Platform) -> tuple[EnvironmentPlan, ...]:
    return resolve(platform, "spec.yaml").on("kubernetes")


def certificate_names(certificate: dict[str, Any]) -> set[str]:
    return {certificate["domain_name"], *certificate.get("subject_alternative_names", [])}


@given(platforms())
def test_every_public_host_has_certificates_records_and_a_distribution_behind_the_web_acl(platform: Platform) -> None:
    for env in kubernetes_envs(platform):
        files = environment_files(env)
        public = {s.public_host for s in env.services if s.public_host}
        if not public:
            assert "public.tf.json" not in files
            continue
        certificates = found(files, "aws_acm_certificate")
        assert certificate_names(certificates["public"]) == certificate_names(certificates["cloudfront"]) == public
        assert certificates["cloudfront"]["provider"] == "aws.us_east_1"
        (distribution,) = found(files, "aws_cloudfront_distribution").values()
        assert set(distribution["aliases"]) == public
        assert distribution["web_acl_id"] == ARN_OF_ACL
        assert distribution["viewer_certificate"]["minimum_protocol_version"] == "TLSv1.2_2021"
        assert distribution["http_version"] == "http2and3"
        assert distribution["origin"][0]["custom_origin_config"]["origin_protocol_policy"] == "https-only"
        assert distribution["default_cache_behavior"]["cache_policy_id"].startswith(
            "${data.aws_cloudfront_cache_policy.caching_disabled")
        assert found(files, "aws_cloudfront_cache_policy", "data")["caching_disabled"]["name"] == \
            "Managed-CachingDisabled"
        records = found(files, "aws_route53_record")
        aliased = {(r["name"], r["type"]) for r in records.values()
                   if r.get("alias", {}).get("name") == "${aws_cloudfront_distribution.edge.domain_name}"}
        assert aliased == {(host, kind) for host in public for kind in ("A", "AAAA")}
        rules = found(files, "aws_lb_listener_rule").values()
        assert sorted(r["condition"][0]["host_header"]["values"][0] for r in rules) == sorted(public)


@given(platforms(), st.integers(10, 100_000))
def test_the_web_acl_limits_each_client_ip_as_the_spec_says(platform: Platform, limit: int) -> None:
    platform = edited(platform, edge={"rate_limit": limit})
    for env in kubernetes_envs(platform):
        acls = found(environment_files(env), "aws_wafv2_web_acl")
        if not any(s.public_host for s in env.services):
            assert acls == {}
            continue
        acl = acls["edge"]
        assert (acl["scope"], acl["provider"]) == ("CLOUDFRONT", "aws.us_east_1")
        rate = next(r for r in acl["rule"] if "rate_based_statement" in r["statement"])
        assert rate["statement"]["rate_based_statement"]["limit"] == limit
        assert rate["action"] == {"block": {}}
        groups = {r["statement"]["managed_rule_group_statement"]["name"]: r for r in acl["rule"]
                  if "managed_rule_group_statement" in r["statement"]}
        assert set(groups) == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"}
        assert all(r["override_action"] == {"none": {}} and "rule_action_override" not in
                   r["statement"]["managed_rule_group_statement"] for r in groups.values())
        assert len({r["priority"] for r in acl["rule"]}) == len(acl["rule"])


@given(platforms(max_services=4))
def test_target_groups_are_the_ones_the_kubernetes_bindings_name(platform: Platform) -> None:
    plan = resolve(platform, "spec.yaml")
    bindings: dict[str, dict[str, Any]] = {}
    for artifact in compile_kubernetes(plan):
        for document in artifact.documents:
            if isinstance(document, dict) and document.get("kind") == "TargetGroupBinding":
                bindings.setdefault(artifact.environment or "", {})[document["spec"]["targetGroupName"]] = document
    for env in plan.on("kubernetes"):
        groups = found(environment_files(env), "aws_lb_target_group")
        theirs = bindings.get(env.name, {})
        assert set(theirs) == {group["name"] for group in groups.values()}
        for group in groups.values():
            service = env.service(theirs[group["name"]]["spec"]["serviceRef"]["name"])
            assert service.public_host is not None  # no private service is exposed
            assert (group["port"], group["target_type"], group["health_check"]["path"]) == \
                (service.port, "ip", service.probes.readiness)


@given(platforms(max_services=4))
def test_the_load_balancer_controller_only_reads_and_registers_pods_in_the_bound_target_groups(
        platform: Platform) -> None:
    for env in kubernetes_envs(platform):
        files = environment_files(env)
        groups = found(files, "aws_lb_target_group")
        policy = found(files, "aws_iam_policy_document", "data")["aws_load_balancer_controller"]["statement"]
        writes = [(action, tuple(s["resources"])) for s in policy for action in s["actions"]
                  if not action.split(":")[1].startswith(("Describe", "Get"))]
        # with a second region, the standby's target groups too: the same names there, the same (global) role
        regions = [env.region, *([env.recovery.standby.region] if env.recovery.standby else [])]
        expected = tuple(f"arn:${{data.aws_partition.current.partition}}:elasticloadbalancing:{region}:"
                         f"${{data.aws_caller_identity.current.account_id}}:targetgroup/{group['name']}/*"
                         for region in regions for group in groups.values())
        assert sorted(writes) == sorted((action, expected) for action in
                                        ["elasticloadbalancing:DeregisterTargets",
                                         "elasticloadbalancing:RegisterTargets"] if expected)


@pytest.mark.slow
@given(platforms(max_services=4))
def test_the_edge_matches_both_schemas_and_only_the_waf_acl_is_beyond_the_6x_file(platform: Platform) -> None:
    for env in kubernetes_envs(platform):
        files = environment_files(env)
        for version in SCHEMA_VERSIONS:
            assert check_folder(files, load_schema(version)) == []
        public = any(s.public_host for s in env.services)
        assert unchecked(files, load_schema("5.100.0")) == []
        assert unchecked(files, load_schema("6.47.0")) == (["public.tf.json: aws_wafv2_web_acl.edge"] if public else [])


def test_the_load_balancer_takes_https_from_cloudfront_only() -> None:
    for env in kubernetes_envs(load_platform(SPECS / "business-app.yaml")):
        files = environment_files(env)
        into_load_balancer = [r for r in found(files, "aws_vpc_security_group_ingress_rule").values()
                              if r["security_group_id"] == "${aws_security_group.load_balancer.id}"]
        assert [(r["from_port"], r.get("cidr_ipv4"), r["prefix_list_id"]) for r in into_load_balancer] == \
            [(443, None, "${data.aws_ec2_managed_prefix_list.cloudfront.id}")]
        assert found(files, "aws_ec2_managed_prefix_list", "data")["cloudfront"]["name"] == \
            "com.amazonaws.global.cloudfront.origin-facing"
        listener = found(files, "aws_lb_listener")["https"]
        assert listener["certificate_arn"] == "${aws_acm_certificate_validation.public.certificate_arn}"


@given(platforms(max_services=2), st.sampled_from(["existing", "create"]))
def test_one_stack_at_most_creates_the_public_zone(platform: Platform, zone: str) -> None:
    envs = kubernetes_envs(edited(platform, edge={"zone": zone}))
    creators = [env.name for env in envs if found(environment_files(env), "aws_route53_zone").get("public")]
    assert len(creators) == (1 if zone == "create" and envs else 0)
    for env in envs:
        lookups = found(environment_files(env), "aws_route53_zone", "data")
        assert ("public" in lookups) == (env.name not in creators and any(s.public_host for s in env.services))


@given(platforms(max_services=2), st.sampled_from([None, True, False]))
def test_spot_is_the_default_outside_production_and_can_be_overridden(platform: Platform,
                                                                       spot: bool | None) -> None:
    data = platform.model_dump()
    for environment in data["environments"].values():
        environment["spot"] = spot
    platform = Platform.model_validate(data)
    for env in kubernetes_envs(platform):
        group = found(environment_files(env), "aws_eks_node_group")["main"]
        expected = (not env.production) if spot is None else spot
        assert group["capacity_type"] == ("SPOT" if expected else "ON_DEMAND")
        assert (group["scaling_config"]["min_size"], group["scaling_config"]["max_size"]) == \
            (env.nodes.min, env.nodes.max)


def test_the_cluster_autoscaler_may_resize_only_its_own_cluster() -> None:
    for env in kubernetes_envs(load_platform(SPECS / "business-app.yaml")):
        files = environment_files(env)
        policy = found(files, "aws_iam_policy_document", "data")["cluster_autoscaler"]["statement"]
        resize = next(s for s in policy if "autoscaling:SetDesiredCapacity" in s["actions"])
        assert resize["condition"][0]["variable"] == f"aws:ResourceTag/k8s.io/cluster-autoscaler/{env.cluster_name}"
        association = found(files, "aws_eks_pod_identity_association")["cluster_autoscaler"]
        assert (association["namespace"], association["service_account"]) == ("kube-system", "cluster-autoscaler")
        assert "metrics-server" in json.dumps(
            [a.documents for a in compile_kubernetes(resolve(load_platform(SPECS / "business-app.yaml"), "s"))
             if a.path.endswith("README.md")])


@given(platforms())
def test_the_load_balancer_forwards_only_what_this_stacks_distribution_sends(platform: Platform) -> None:
    """CloudFront's addresses are every AWS customer's: the listener must forward only requests carrying the secret
    header this stack's distribution adds, whose value is generated in the stack, never written in it."""
    for env in kubernetes_envs(platform):
        files = environment_files(env)
        if "public.tf.json" not in files:
            continue
        (distribution,) = found(files, "aws_cloudfront_distribution").values()
        (header,) = distribution["origin"][0]["custom_header"]
        secret = header["value"]
        assert secret.startswith("${aws_secretsmanager_secret_version.") and secret.endswith(".secret_string}")
        assert secret[2:-len(".secret_string}")].split(".")[1] in found(files, "aws_secretsmanager_secret_version")
        (listener,) = found(files, "aws_lb_listener").values()
        assert listener["default_action"]["type"] == "fixed-response"
        rules = found(files, "aws_lb_listener_rule").values()
        assert rules
        for rule in rules:
            assert {"http_header": {"http_header_name": header["name"], "values": [secret]}} in rule["condition"]
