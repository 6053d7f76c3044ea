"""The cross-target invariants: they hold on every random platform (patched or not), and each one notices the
breakage it exists for, naming the file and object."""

from __future__ import annotations

import functools
import json
from typing import Any

import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bizinfra import invariants
from bizinfra.pipeline import build_files, build_tree
from bizinfra.render import to_yaml
from bizinfra.spec.loader import Spec, load_platform, parse_spec
from bizinfra.spec.models import Platform
from tests.conftest import SPECS
from tests.strategies import platform_specs

SOURCE = "specs/test.yaml"


def files_of(spec: dict[str, Any] | Platform) -> dict[str, bytes]:
    platform = spec if isinstance(spec, Platform) else Platform.model_validate(spec)
    return build_tree([Spec(SOURCE, platform)]).files


@functools.cache
def bundled() -> dict[str, bytes]:
    """The business app's tree, built once: tests change copies of it."""
    return files_of(load_platform(SPECS / "business-app.yaml", shown_as="specs/business-app.yaml"))


def problems(files: dict[str, bytes], rule: str | None = None) -> list[str]:
    if rule is None:
        return [str(problem) for problem in invariants.check(files)]
    return sorted(str(p) for platform in invariants.platforms(files) for p in invariants.RULES[rule](platform))


def edit_yaml(files: dict[str, bytes], path: str, kind: str, name: str, change: Any) -> dict[str, bytes]:
    """The tree with one document of one file changed, rendered back as YAML."""
    documents = list(yaml.safe_load_all(files[path]))
    for document in documents:
        if document["kind"] == kind and document["metadata"]["name"] == name:
            change(document)
    return {**files, path: "---\n".join(to_yaml(d) for d in documents).encode()}


# -- they hold ---------------------------------------------------------------------------------------------------------


def _patched(spec: dict[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    """The spec with random patches that must keep every invariant: extra labels and annotations on objects."""
    env = draw(st.sampled_from(["staging", "production"]))
    service = draw(st.sampled_from(sorted(spec["services"])))
    key = draw(st.from_regex(r"team|owner|cost-center|example\.com/tier", fullmatch=True))
    value = draw(st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True))
    patches = [
        {"file": f"kubernetes/{env}/namespace.yaml",
         "ops": [{"op": "add", "path": f"/metadata/labels/{key.replace('/', '~1')}", "value": value}]},
        {"file": f"kubernetes/{env}/workloads.yaml", "select": {"kind": "Service", "name": service},
         "ops": [{"op": "add", "path": "/metadata/annotations", "value": {key: value}}]},
        {"file": f"kubernetes/{env}/configmaps.yaml", "select": {"kind": "ConfigMap", "name": f"{service}-config"},
         "ops": [{"op": "add", "path": "/data/FEATURE_FLAGS", "value": value}]},
    ]
    return {**spec, "patches": draw(st.lists(st.sampled_from(patches), min_size=1, max_size=3, unique_by=json.dumps))}


@st.composite
def patched_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec = draw(platform_specs())
    return _patched(spec, draw) if draw(st.booleans()) else spec


@given(patched_specs())
def test_every_invariant_holds_on_random_platforms_with_harmless_patches(spec: dict[str, Any]) -> None:
    files = files_of(spec)
    assert problems(files) == []
    # and the source the network rule compares against says what the spec says, not what the policies say
    (platform,) = invariants.platforms(files)
    declared = platform.declared()
    assert {name: (d.port, d.public, set(d.calls), set(d.uses)) for name, d in declared.items()} == {
        name: (s["port"], "public" in s, set(s["calls"]), set(s["uses"])) for name, s in spec["services"].items()}
    ingress, egress = invariants.declared_edges(platform, "production")
    calls = {(caller, callee) for caller, s in spec["services"].items() for callee in s["calls"]}
    assert {(a, b) for a, b, _ in egress if b in spec["services"]} == calls
    stores = {store: body["port"] for store, body in spec["datastores"].items()}
    uses = {(user, store, stores[store]) for user, s in spec["services"].items() for store in s["uses"]}
    assert {edge for edge in egress if edge[1] in stores and edge[0] in spec["services"]} == uses
    bootstraps = {(f"{store}-bootstrap", store, port) for store, port in stores.items()
                  if spec["datastores"][store]["engine"] == "postgres"}
    assert {edge for edge in egress if edge[1] in stores and edge[0] not in spec["services"]} == bootstraps
    assert {b for a, b, _ in ingress if a == "ingress"} == {n for n, s in spec["services"].items() if "public" in s}


# -- they notice -------------------------------------------------------------------------------------------------------


@settings(max_examples=20)  # slow: a whole tree per example; the rule's reach is what varies
@given(platform_specs(), st.data())
def test_a_service_port_changed_by_a_patch_is_named(spec: dict[str, Any], data: st.DataObject) -> None:
    service = data.draw(st.sampled_from(sorted(spec["services"])))
    env = data.draw(st.sampled_from(["staging", "production"]))
    port = spec["services"][service]["port"]
    wrong = port + 1 if port < 65000 else port - 1
    spec = {**spec, "patches": [{"file": f"kubernetes/{env}/workloads.yaml",
                                 "select": {"kind": "Service", "name": service},
                                 "ops": [{"op": "replace", "path": "/spec/ports/0/port", "value": wrong}]}]}
    assert problems(files_of(spec), "ports agree") == [
        f"{spec['name']}/kubernetes/{env}/workloads.yaml: Service/{service}: port is {wrong}, "
        f"but {service}'s port is {port}"]


@settings(max_examples=20)  # slow: a whole tree per example
@given(platform_specs(), st.data())
def test_a_wrong_port_build_argument_in_compose_or_ci_is_named(spec: dict[str, Any], data: st.DataObject) -> None:
    service = data.draw(st.sampled_from(sorted(spec["services"])))
    port = spec["services"][service]["port"]
    wrong = port + 1 if port < 65000 else port - 1
    files = files_of(spec)
    if data.draw(st.sampled_from(["compose", "ci"])) == "compose":
        path, obj = f"{spec['name']}/compose/docker-compose.yml", f"service {service}"
        (document,) = yaml.safe_load_all(files[path])
        document["services"][service]["build"]["args"]["PORT"] = str(wrong)
        files = {**files, path: to_yaml(document).encode()}
    else:
        path, obj = f"{spec['name']}/github/workflows/ci-cd.yml", f"job build (service {service})"
        line = f"PORT={port}\n".encode()  # only the service's build-args write its port this way
        assert files[path].count(line) == 1
        files = {**files, path: files[path].replace(line, f"PORT={wrong}\n".encode())}
    assert problems(files, "ports agree") == [
        f"{path}: {obj}: build argument PORT is {wrong}, but {service}'s port is {port}"]


def test_a_build_without_a_port_argument_is_named() -> None:
    path = "business-app/github/workflows/ci-cd.yml"
    files = {**bundled(), path: bundled()[path].replace(b"PORT=3001\n", b"")}
    assert problems(files, "ports agree") == [
        f"{path}: job build (service auth-service): build argument PORT is missing, but auth-service's port is 3001"]


def test_a_port_written_into_the_shared_dockerfile_is_named() -> None:
    path = "business-app/docker/Dockerfile"
    text = bundled()[path].decode()
    line = text.splitlines().index("EXPOSE ${PORT}") + 1
    files = {**bundled(), path: text.replace("EXPOSE ${PORT}", "EXPOSE 3001").encode()}
    assert problems(files, "ports agree") == [
        f"{path}: line {line}: EXPOSE hard-codes port 3001; every service's port comes from the PORT build argument"]


@settings(max_examples=20)  # slow: a whole tree per example
@given(platform_specs(), st.data())
def test_an_undeclared_call_in_a_network_policy_is_named(spec: dict[str, Any], data: st.DataObject) -> None:
    services = spec["services"]
    pairs = [(a, b) for a in sorted(services) for b in sorted(services) if a != b and b not in services[a]["calls"]]
    assume(pairs)
    caller, callee = data.draw(st.sampled_from(pairs))
    port = services[callee]["port"]
    rule = {"to": [{"podSelector": {"matchLabels": {invariants.NAME: callee, invariants.PART_OF: spec["name"]}}}],
            "ports": [{"protocol": "TCP", "port": port}]}
    spec = {**spec, "patches": [{"file": "kubernetes/production/network-policies.yaml",
                                 "select": {"kind": "NetworkPolicy", "name": f"{caller}-traffic"},
                                 "ops": [{"op": "add", "path": "/spec/egress/-", "value": rule}]}]}
    assert problems(files_of(spec), "network edges match the declared ones") == [
        f"{spec['name']}/kubernetes/production/network-policies.yaml: NetworkPolicy/{caller}-traffic: allows egress "
        f"{caller} -> {callee}:{port}, which the spec does not declare"]


def test_a_missing_ingress_rule_is_named() -> None:
    files = edit_yaml(bundled(), "business-app/kubernetes/staging/network-policies.yaml", "NetworkPolicy",
                      "auth-service-traffic", lambda policy: policy["spec"].update(ingress=[]))
    assert problems(files, "network edges match the declared ones") == [
        "business-app/kubernetes/staging/network-policies.yaml: NetworkPolicy: no policy allows ingress "
        "api-gateway -> auth-service:3001, which the spec declares"]


def test_a_security_group_open_to_the_world_is_named() -> None:
    files = bundled()
    path = "business-app/terraform/production/network.tf.json"
    document = json.loads(files[path])
    rule = document["resource"]["aws_vpc_security_group_ingress_rule"]["postgres_from_nodes"]
    del rule["referenced_security_group_id"]
    rule["cidr_ipv4"] = "0.0.0.0/0"
    files = {**files, path: json.dumps(document).encode()}
    assert problems(files, "network edges match the declared ones") == [
        f"{path}: aws_vpc_security_group_ingress_rule.postgres_from_nodes: admits 0.0.0.0/0 on 5432-5432; "
        "postgres admits only the nodes on 5432"]


def test_a_load_balancer_rule_to_a_private_port_is_named() -> None:
    files = bundled()
    path = "business-app/terraform/staging/network.tf.json"
    document = json.loads(files[path])
    rule = document["resource"]["aws_vpc_security_group_ingress_rule"]["nodes_from_load_balancer_3000"]
    rule["from_port"] = rule["to_port"] = 3001
    files = {**files, path: json.dumps(document).encode()}
    assert problems(files, "ports agree") == [
        f"{path}: aws_vpc_security_group_ingress_rule.nodes_from_load_balancer_3000: opens ports 3001-3001 between "
        "the load balancer and the nodes; the public services' ports are [3000]",
        f"{path}: aws_vpc_security_group_ingress_rule: no rule lets the load balancer reach the nodes on public "
        "port 3000"]


def test_a_secret_terraform_does_not_create_is_named() -> None:
    files = edit_yaml(bundled(), "business-app/kubernetes/production/secrets.yaml", "ExternalSecret",
                      "auth-service-secrets",
                      lambda secret: secret["spec"]["data"][0]["remoteRef"].update(key="business-app/production/x"))
    assert problems(files, "secrets are references") == [
        "business-app/kubernetes/production/secrets.yaml: ExternalSecret/auth-service-secrets: DB_PASSWORD reads "
        "business-app/production/x, which Terraform does not create"]


def test_a_label_a_patch_removes_is_named() -> None:
    files = edit_yaml(bundled(), "business-app/kubernetes/staging/configmaps.yaml", "ConfigMap", "auth-service-config",
                      lambda config: config["metadata"]["labels"].pop("bizinfra.dev/environment"))
    assert problems(files, "labels reach their objects") == [
        "business-app/kubernetes/staging/configmaps.yaml: ConfigMap/auth-service-config: labels lack "
        "bizinfra.dev/environment=staging"]


def test_a_selector_that_selects_no_pod_is_named() -> None:
    files = edit_yaml(bundled(), "business-app/kubernetes/staging/workloads.yaml", "Service",
                      "auth-service", lambda service: service["spec"]["selector"].update({invariants.NAME: "auth"}))
    assert problems(files, "labels reach their objects") == [
        "business-app/kubernetes/staging/workloads.yaml: Service/auth-service: selector "
        "app.kubernetes.io/name=auth,app.kubernetes.io/part-of=business-app selects no pod"]


def test_a_runbook_cluster_terraform_does_not_create_is_named() -> None:
    files = bundled()
    path = "business-app/scripts/rollback.sh"
    files = {**files, path: files[path].replace(b'cluster="business-app-staging"', b'cluster="business-app-stage"')}
    assert problems(files, "names agree across targets") == [
        f"{path}: cluster: 'business-app-stage' is not an aws_eks_cluster of Terraform "
        "(business-app-production, business-app-staging)"]


def test_a_pod_identity_role_that_is_not_declared_is_named() -> None:
    files = bundled()
    path = "business-app/terraform/production/eks.tf.json"
    document = json.loads(files[path])
    association = document["resource"]["aws_eks_pod_identity_association"]["velero"]
    association["role_arn"] = "${aws_iam_role.backups.arn}"
    files = {**files, path: json.dumps(document).encode()}
    assert problems(files, "names agree across targets") == [
        f"{path}: aws_eks_pod_identity_association.velero: role_arn ${{aws_iam_role.backups.arn}} is not a declared "
        "aws_iam_role"]


def test_a_workflow_assuming_a_role_terraform_does_not_create_is_named() -> None:
    spec = (SPECS / "business-app.yaml").read_text().replace("delivery: {repository: acme/business}", "")
    files = build_files([parse_spec(spec, "specs/business-app.yaml")])
    assert ("business-app/github/workflows/ci-cd.yml: job deploy-staging: assumes role business-app-staging-deploy, "
            "which is not an aws_iam_role of terraform/staging (Terraform creates it once the spec sets "
            "delivery.repository)") in problems(files, "names agree across targets")


def test_rules_that_read_the_declared_facts_do_not_pass_without_them() -> None:
    files = {path: content for path, content in bundled().items() if path != "business-app/docs/architecture.md"}
    expected = ["business-app/docs/architecture.md: services table: missing: the ports and edges the spec declares "
                "cannot be read"]
    assert problems(files, "ports agree") == expected
    assert problems(files, "network edges match the declared ones") == expected


def test_a_node_port_opened_to_the_world_is_named() -> None:
    files = bundled()
    path = "business-app/terraform/staging/network.tf.json"
    document = json.loads(files[path])
    document["resource"]["aws_vpc_security_group_ingress_rule"]["ssh"] = {
        "security_group_id": "${aws_security_group.eks_nodes.id}", "ip_protocol": "tcp", "from_port": 22,
        "to_port": 22, "cidr_ipv4": "0.0.0.0/0"}
    files = {**files, path: json.dumps(document).encode()}
    assert problems(files, "network edges match the declared ones") == [
        f"{path}: aws_vpc_security_group_ingress_rule.ssh: admits 0.0.0.0/0 on 22-22; the nodes admit only the load "
        "balancer"]


# -- the database bootstrap Job is a workload like the Deployments ----------------------------------------------------

BOOTSTRAP = "business-app/kubernetes/staging/database-bootstrap.yaml"
POLICIES = "business-app/kubernetes/staging/network-policies.yaml"


def test_a_bootstrap_image_without_a_pinned_tag_is_named() -> None:
    def unpin(job: dict[str, Any]) -> None:
        job["spec"]["template"]["spec"]["initContainers"][0]["image"] = "amazon/aws-cli:latest"
        job["spec"]["template"]["spec"]["containers"][0]["image"] = "postgres"
    files = edit_yaml(bundled(), BOOTSTRAP, "Job", "postgres-bootstrap", unpin)
    assert problems(files, "images are pinned") == [
        f"{BOOTSTRAP}: Job/postgres-bootstrap: container bootstrap runs 'postgres', not a pinned tag",
        f"{BOOTSTRAP}: Job/postgres-bootstrap: container read-master-secret runs 'amazon/aws-cli:latest', "
        "not a pinned tag"]


def test_a_bootstrap_policy_opening_more_than_its_store_is_named() -> None:
    def widen(policy: dict[str, Any]) -> None:
        policy["spec"]["egress"][0]["ports"][0]["port"] = 6379  # the Redis store's port
        policy["spec"]["egress"][1]["to"][0]["ipBlock"].pop("except")
    files = edit_yaml(bundled(), POLICIES, "NetworkPolicy", "postgres-bootstrap-traffic", widen)
    assert problems(files, "network edges match the declared ones") == sorted([
        f"{POLICIES}: NetworkPolicy: no policy allows egress postgres-bootstrap -> aws-apis:443, which the spec "
        "declares",
        f"{POLICIES}: NetworkPolicy: no policy allows egress postgres-bootstrap -> postgres:5432, which the spec "
        "declares",
        f'{POLICIES}: NetworkPolicy/postgres-bootstrap-traffic: allows egress postgres-bootstrap -> '
        f'{{"ipBlock": {{"cidr": "0.0.0.0/0"}}}}:443, which the spec does not declare',
        f"{POLICIES}: NetworkPolicy/postgres-bootstrap-traffic: allows egress postgres-bootstrap -> redis:6379, "
        "which the spec does not declare"])


def test_a_bootstrap_job_without_its_service_account_or_secret_is_named() -> None:
    def rename(job: dict[str, Any]) -> None:
        pod = job["spec"]["template"]["spec"]
        pod["serviceAccountName"] = "nobody"
        pod["containers"][0]["env"][-1]["valueFrom"]["secretKeyRef"]["name"] = "missing"
    files = edit_yaml(bundled(), BOOTSTRAP, "Job", "postgres-bootstrap", rename)
    assert problems(files, "names agree across targets") == [
        f"{BOOTSTRAP}: Job/postgres-bootstrap: runs as ServiceAccount nobody, which is not generated"]
    assert problems(files, "secrets are references") == [
        f"{BOOTSTRAP}: Job/postgres-bootstrap: reads Secret missing, which no ExternalSecret creates"]


def test_a_deploy_waiting_for_a_job_that_is_not_generated_is_named() -> None:
    path = "business-app/github/workflows/ci-cd.yml"
    assert bundled()[path].count(b"JOB: postgres-bootstrap\n") == 2  # staging and production
    files = {**bundled(), path: bundled()[path].replace(b"JOB: postgres-bootstrap\n", b"JOB: orders-bootstrap\n")}
    assert problems(files, "names agree across targets") == [
        f"{path}: job deploy-{env}: Job orders-bootstrap is not in kubernetes/{env}" for env in ("production", "staging")]
