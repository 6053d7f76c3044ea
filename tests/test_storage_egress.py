"""Application buckets and declared egress: what the spec says becomes the bucket, its lifecycle, the role that
alone reaches it, the variables that name it, and the only ways out of the cluster a service gets."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from pydantic import ValidationError

from bizinfra.naming import PRIVATE_RANGES
from bizinfra.plan import EnvironmentPlan
from bizinfra.spec.models import Platform
from bizinfra.spec.storage import STORAGE_CLASSES, days, egress_target
from bizinfra.targets.kubernetes.egress import declared_egress, outside_ranges
from bizinfra.targets.terraform.buckets import application_bucket, buckets
from tests.strategies import platforms
from tests.support import bundled_plan, plan_of


def environment(name: str) -> EnvironmentPlan:
    return next(env for env in bundled_plan().environments if env.name == name)


def resources(block: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = block.get("resource", {}).get(kind, {})
    return found


def test_the_invoice_service_stores_documents_in_its_own_bucket() -> None:
    for name, production in (("staging", False), ("production", True)):
        env = environment(name)
        block = buckets(env)
        (bucket,) = resources(block, "aws_s3_bucket").values()
        assert bucket["bucket"] == f"business-app-com-{name}-documents"
        assert bucket["force_destroy"] is not production
        (rule,) = resources(block, "aws_s3_bucket_lifecycle_configuration")["app_documents"]["rule"]
        assert rule["transition"] == [{"days": 90, "storage_class": "STANDARD_IA"}]
        assert "expiration" not in rule  # invoices are kept
        encryption = resources(block, "aws_s3_bucket_server_side_encryption_configuration")["app_documents"]["rule"][0]
        assert encryption["apply_server_side_encryption_by_default"]["kms_master_key_id"] == "${aws_kms_key.main.arn}"
        (association,) = resources(block, "aws_eks_pod_identity_association").values()
        assert (association["namespace"], association["service_account"]) == ("business-app", "invoice-service")
        invoice = env.service("invoice-service")
        assert env.service_config(invoice)["DOCUMENTS_BUCKET"] == bucket["bucket"]
        assert env.service_config(invoice)["AWS_REGION"] == "ap-south-1"
        assert all(s.identity is None for s in env.services if s.name != "invoice-service")


@given(platforms())
def test_each_bucket_keeps_the_lifecycle_its_spec_gives(platform: Platform) -> None:
    for env in plan_of(platform).on("kubernetes"):
        rules = resources(buckets(env), "aws_s3_bucket_lifecycle_configuration")
        for name, spec in platform.storage.items():
            (rule,) = rules[application_bucket(name).name]["rule"]
            assert rule["noncurrent_version_expiration"] == {"noncurrent_days": days(spec.keep_versions)}
            assert rule.get("expiration") == ({"days": days(spec.expire)} if spec.expire else None)
            transition = spec.transition
            assert rule.get("transition") == ([{"days": days(transition.after),
                                                "storage_class": STORAGE_CLASSES[transition.to]}]
                                               if transition else None)


@given(platforms())
def test_a_service_reaches_outside_only_on_its_declared_ports(platform: Platform) -> None:
    for env in plan_of(platform).on("kubernetes"):
        for service in env.services:
            spec = platform.services[service.name]
            targets = [egress_target(target) for target in spec.egress]
            calls_aws = any(isinstance(t, str) for t in targets) or any(u in platform.storage for u in spec.uses)
            ports = {t[1] for t in targets if isinstance(t, tuple)} | ({443} if calls_aws else set())
            rules = declared_egress(env, service)
            outside = [r for r in rules if r["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0"]
            assert {p["port"] for r in outside for p in r["ports"]} == ports
            assert all(set(PRIVATE_RANGES) <= set(r["to"][0]["ipBlock"]["except"]) for r in outside)
            agent = [r for r in rules if r not in outside]
            assert len(agent) == (1 if calls_aws else 0)


def test_a_vpc_outside_the_private_ranges_is_excepted_too() -> None:
    env = environment("staging")
    assert outside_ranges(env) == sorted(PRIVATE_RANGES)  # 10.0.0.0/16 is inside 10/8
    public_vpc = dataclasses.replace(env.network, cidr="198.18.0.0/16")
    assert "198.18.0.0/16" in outside_ranges(dataclasses.replace(env, network=public_vpc))


@pytest.mark.parametrize(("text", "target"), [
    ("api.stripe.com", ("api.stripe.com", 443)), ("smtp.sendgrid.net:587", ("smtp.sendgrid.net", 587)),
    ("sqs", "sqs"), ("secretsmanager", "secretsmanager")])
def test_egress_reads_hosts_with_their_ports_and_aws_services(text: str, target: Any) -> None:
    assert egress_target(text) == target


def minimal(**service: Any) -> dict[str, Any]:
    return {"name": "shop", "domain": "shop.example.com", "storage": {"uploads": {}},
            "services": {"cart": {"port": 3000, **service}}}


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_ENDPOINT_URL_S3", "UPLOADS_BUCKET"])
def test_a_service_using_a_bucket_may_not_set_what_bizinfra_sets(variable: str) -> None:
    with pytest.raises(ValidationError, match=f"'{variable}' is set by bizinfra"):
        Platform.model_validate(minimal(uses=["uploads"], env={variable: "x"}))


def test_a_service_calling_nothing_outside_may_set_aws_region_itself() -> None:
    Platform.model_validate(minimal(env={"AWS_REGION": "eu-west-1"}))
