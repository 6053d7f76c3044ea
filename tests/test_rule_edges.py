"""Rule `network edges match the declared ones`: the NetworkPolicies allow exactly the declared edges, and the
security groups admit only what the design needs."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bizinfra.render import to_yaml
from bizinfra.validate.rules.documents import NAME, PART_OF
from tests.strategies import platform_specs
from tests.support import BUNDLED_SPEC, bundled_tree
from tests.support.rules import edit_json, edit_yaml, files_of, problems

RULE = "network edges match the declared ones"
POLICIES = "business-app/kubernetes/staging/network-policies.yaml"
EXPORTERS = "business-app/kubernetes/staging/exporters.yaml"


def test_the_generated_tree_passes() -> None:
    assert problems(bundled_tree(), RULE) == []


@pytest.mark.slow
@settings(max_examples=20)  # slow: a whole tree per example
@given(platform_specs(), st.data())
def test_an_undeclared_call_in_a_network_policy_is_named(spec: dict[str, Any], data: st.DataObject) -> None:
    services = spec["services"]
    pairs = [(a, b) for a in sorted(services) for b in sorted(services)
             if a != b and b not in services[a]["calls"] and "port" in services[b]]
    assume(pairs)
    caller, callee = data.draw(st.sampled_from(pairs))
    port = services[callee]["port"]
    rule = {"to": [{"podSelector": {"matchLabels": {NAME: callee, PART_OF: spec["name"]}}}],
            "ports": [{"protocol": "TCP", "port": port}]}
    spec = {**spec, "patches": [{"file": "kubernetes/production/network-policies.yaml",
                                 "select": {"kind": "NetworkPolicy", "name": f"{caller}-traffic"},
                                 "ops": [{"op": "add", "path": "/spec/egress/-", "value": rule}]}]}
    assert problems(files_of(spec), RULE) == [
        f"{spec['name']}/kubernetes/production/network-policies.yaml: NetworkPolicy/{caller}-traffic: allows egress "
        f"{caller} -> {callee}:{port}, which the spec does not declare"]


def test_a_missing_ingress_rule_is_named() -> None:
    files = edit_yaml(bundled_tree(), POLICIES, "NetworkPolicy", "auth-service-traffic",
                      lambda policy: policy["spec"].update(ingress=[]))
    assert problems(files, RULE) == [
        f"{POLICIES}: NetworkPolicy: no policy allows ingress api-gateway -> auth-service:3001, which the spec declares"]


def test_a_default_deny_that_lets_egress_through_is_named() -> None:
    files = edit_yaml(bundled_tree(), POLICIES, "NetworkPolicy", "default-deny",
                      lambda policy: policy["spec"].update(policyTypes=["Ingress"]))
    assert problems(files, RULE) == [
        f"{POLICIES}: NetworkPolicy: no default-deny policy: pods not named by a policy would accept anything"]


def test_a_bootstrap_policy_opening_more_than_its_store_is_named() -> None:
    def widen(policy: dict[str, Any]) -> None:
        policy["spec"]["egress"][0]["ports"][0]["port"] = 6379  # the Redis store's port
        policy["spec"]["egress"][1]["to"][0]["ipBlock"].pop("except")
    files = edit_yaml(bundled_tree(), POLICIES, "NetworkPolicy", "postgres-bootstrap-traffic", widen)
    assert problems(files, RULE) == sorted([
        f"{POLICIES}: NetworkPolicy: no policy allows egress postgres-bootstrap -> aws-apis:443, which the spec "
        "declares",
        f"{POLICIES}: NetworkPolicy: no policy allows egress postgres-bootstrap -> postgres:5432, which the spec "
        "declares",
        f'{POLICIES}: NetworkPolicy/postgres-bootstrap-traffic: allows egress postgres-bootstrap -> '
        f'{{"ipBlock": {{"cidr": "0.0.0.0/0"}}}}:443, which the spec does not declare',
        f"{POLICIES}: NetworkPolicy/postgres-bootstrap-traffic: allows egress postgres-bootstrap -> redis:6379, "
        "which the spec does not declare"])


def test_an_exporter_reaching_another_store_or_scraped_on_another_port_is_named() -> None:
    """The PostgreSQL exporter is admitted on its container's metrics port only, and reaches its own store only."""
    def widen(policy: dict[str, Any]) -> None:
        policy["spec"]["ingress"][0]["ports"][0]["port"] = 9121  # the Redis exporter's port
        policy["spec"]["egress"][0]["ports"][0]["port"] = 6379  # the Redis store's
    files = edit_yaml(bundled_tree(), EXPORTERS, "NetworkPolicy", "postgres-exporter-traffic", widen)
    assert problems(files, RULE) == sorted([
        f"{EXPORTERS}: NetworkPolicy/postgres-exporter-traffic: allows egress postgres-exporter -> redis:6379, which "
        "the spec does not declare",
        f"{EXPORTERS}: NetworkPolicy/postgres-exporter-traffic: allows ingress monitoring -> postgres-exporter:9121, "
        "which the spec does not declare",
        f"{POLICIES}: NetworkPolicy: no policy allows egress postgres-exporter -> postgres:5432, which the spec "
        "declares",
        f"{POLICIES}: NetworkPolicy: no policy allows ingress monitoring -> postgres-exporter:9187, which the spec "
        "declares"])


def test_an_exporter_without_its_policy_is_named() -> None:
    """The namespace-wide DNS rule covers the exporters; their scrape and their store are theirs to declare."""
    documents = [d for d in yaml.safe_load_all(bundled_tree()[EXPORTERS])
                 if d["metadata"]["name"] != "redis-exporter-traffic"]
    files = {**bundled_tree(), EXPORTERS: "---\n".join(to_yaml(d) for d in documents).encode()}
    assert problems(files, RULE) == sorted([
        f"{POLICIES}: NetworkPolicy: no policy allows egress redis-exporter -> redis:6379, which the spec declares",
        f"{POLICIES}: NetworkPolicy: no policy allows ingress monitoring -> redis-exporter:9121, which the spec "
        "declares"])


# -- security groups ----------------------------------------------------------------------------------------------------


def test_a_security_group_open_to_the_world_is_named() -> None:
    path = "business-app/terraform/production/network.tf.json"

    def open_to_the_world(document: dict[str, Any]) -> None:
        rule = document["resource"]["aws_vpc_security_group_ingress_rule"]["postgres_from_nodes"]
        del rule["referenced_security_group_id"]
        rule["cidr_ipv4"] = "0.0.0.0/0"
    assert problems(edit_json(bundled_tree(), path, open_to_the_world), RULE) == [
        f"{path}: aws_vpc_security_group_ingress_rule.postgres_from_nodes: admits 0.0.0.0/0 on 5432-5432; "
        "postgres admits only the nodes on 5432"]


def test_a_node_port_opened_to_the_world_is_named() -> None:
    path = "business-app/terraform/staging/network.tf.json"

    def add_ssh(document: dict[str, Any]) -> None:
        document["resource"]["aws_vpc_security_group_ingress_rule"]["ssh"] = {
            "security_group_id": "${aws_security_group.eks_nodes.id}", "ip_protocol": "tcp", "from_port": 22,
            "to_port": 22, "cidr_ipv4": "0.0.0.0/0"}
    assert problems(edit_json(bundled_tree(), path, add_ssh), RULE) == [
        f"{path}: aws_vpc_security_group_ingress_rule.ssh: admits 0.0.0.0/0 on 22-22; the nodes admit only the load "
        "balancer"]


# -- declared egress ----------------------------------------------------------------------------------------------------

OUTSIDE = {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12",
                                                       "192.168.0.0/16"]}}


def _with_egress_patch(spec: dict[str, Any], service: str) -> dict[str, Any]:
    """The escape hatch used for what `egress:` declares: HTTPS to the internet added to a service's policy."""
    rule = {"to": [OUTSIDE], "ports": [{"protocol": "TCP", "port": 443}]}
    return {**spec, "patches": [{"file": "kubernetes/staging/network-policies.yaml",
                                 "select": {"kind": "NetworkPolicy", "name": f"{service}-traffic"},
                                 "ops": [{"op": "add", "path": "/spec/egress/-", "value": rule}]}]}


def _bundled_spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(BUNDLED_SPEC.read_text())
    return spec


def test_egress_added_by_a_patch_is_named_with_where_to_declare_it() -> None:
    assert problems(files_of(_with_egress_patch(_bundled_spec(), "business-service")), RULE) == [
        f"{POLICIES}: NetworkPolicy/business-service-traffic: allows egress business-service -> internet:443, which "
        "the spec does not declare; declare what business-service calls outside the platform under "
        "services.business-service.egress"]


def test_egress_declared_in_the_spec_is_what_the_judge_accepts() -> None:
    spec = _bundled_spec()
    spec["services"]["business-service"]["egress"] = ["api.stripe.com", "smtp.sendgrid.net:587"]
    files = files_of(spec)
    assert problems(files, RULE) == []
    (policy,) = [d for d in yaml.safe_load_all(files[POLICIES]) if d["metadata"]["name"] == "business-service-traffic"]
    assert {"to": [OUTSIDE], "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 587}]} \
        in policy["spec"]["egress"]
    assert policy["metadata"]["annotations"] == {"bizinfra.dev/egress": "api.stripe.com:443, smtp.sendgrid.net:587"}


def test_declared_egress_missing_from_the_policies_is_named() -> None:
    files = edit_yaml(bundled_tree(), POLICIES, "NetworkPolicy", "invoice-service-traffic",
                      lambda policy: policy["spec"].update(egress=policy["spec"]["egress"][:1]))
    assert problems(files, RULE) == sorted([
        f"{POLICIES}: NetworkPolicy: no policy allows egress invoice-service -> internet:443, which the spec declares",
        f"{POLICIES}: NetworkPolicy: no policy allows egress invoice-service -> pod-identity-agent:80, which the spec "
        "declares"])


def test_declared_egress_that_reaches_private_ranges_is_named() -> None:
    def widen(policy: dict[str, Any]) -> None:
        policy["spec"]["egress"][1]["to"][0]["ipBlock"]["except"] = ["10.0.0.0/16"]
    files = edit_yaml(bundled_tree(), POLICIES, "NetworkPolicy", "invoice-service-traffic", widen)
    assert problems(files, RULE) == sorted([
        f"{POLICIES}: NetworkPolicy: no policy allows egress invoice-service -> internet:443, which the spec declares",
        f"{POLICIES}: NetworkPolicy/invoice-service-traffic: allows egress invoice-service -> aws-apis:443, which the "
        "spec does not declare; declare what invoice-service calls outside the platform under "
        "services.invoice-service.egress"])
