"""The EKS add-ons and container logs of every environment's stack: pinned from one table, one identity for each
add-on that calls AWS, log groups kept as the spec says, a saved query per service, and add-on configuration that
the packaged charts accept (their vendored values schema and values)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given

from bizinfra.naming import LOG_RETENTION_DAYS, VOLUME_STORAGE_CLASS, container_log_group, log_retention
from bizinfra.plan import EnvironmentPlan, PlatformPlan, resolve
from bizinfra.spec.loader import load_platform
from bizinfra.spec.models import Platform
from bizinfra.spec.quantities import seconds
from bizinfra.targets.ops.logs import logs_page
from bizinfra.targets.terraform import environment_files
from bizinfra.targets.terraform.addon_versions import EKS_ADDONS, EKS_ADDONS_PINNED_FOR
from bizinfra.targets.terraform.addons import ADDONS, CLOUDWATCH_CONFIGURATION
from bizinfra.targets.terraform.settings import KUBERNETES_VERSION
from tests.strategies import platforms
from tests.support import SPECS

REFERENCE = Path(__file__).resolve().parent.parent / "src" / "bizinfra" / "data" / "reference" / "addons"
EBS_VALUES_SCHEMA = REFERENCE / "aws-ebs-csi-driver-2.63.0.values.schema.json"
CLOUDWATCH_VALUES = REFERENCE / "amazon-cloudwatch-observability-6.4.0.values.yaml"
POD_IDENTITY = "pods.eks.amazonaws.com"
# The add-ons that call AWS APIs, and how: the VPC CNI as the node (its policy on the nodes' role), the others
# through EKS Pod Identity, as the ServiceAccount the add-on runs its AWS-calling pods as.
CALLS_AWS = {"vpc-cni": "node", "aws-ebs-csi-driver": "kube-system/ebs-csi-controller-sa",
             "amazon-cloudwatch-observability": "amazon-cloudwatch/cloudwatch-agent"}


def stacks(plan: PlatformPlan) -> list[tuple[EnvironmentPlan, dict[str, Any]]]:
    """Each Kubernetes environment with its stack's resources and data sources, all files merged."""
    found = []
    for env in plan.on("kubernetes"):
        merged: dict[str, Any] = {"resource": {}, "data": {}}
        for document in environment_files(env).values():
            for section in ("resource", "data"):
                for kind, blocks in document.get(section, {}).items():
                    merged[section].setdefault(kind, {}).update(blocks)
        found.append((env, merged))
    return found


def bundled() -> PlatformPlan:
    return resolve(load_platform(SPECS / "business-app.yaml"), "specs/business-app.yaml")


def statements(stack: dict[str, Any], document_ref: str) -> list[dict[str, Any]]:
    name = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", document_ref)
    assert name, document_ref
    return list(stack["data"]["aws_iam_policy_document"][name.group(1)]["statement"])


def role_label(ref: str) -> str:
    match = re.fullmatch(r"\$\{aws_iam_role\.(\w+)\.(arn|id|name)\}", ref)
    assert match, ref
    return match.group(1)


# -- pinned versions -------------------------------------------------------------------


def test_the_pins_are_for_the_clusters_kubernetes_version_and_each_names_its_source() -> None:
    assert EKS_ADDONS_PINNED_FOR == KUBERNETES_VERSION
    assert sorted(EKS_ADDONS) == sorted(addon.name for addon in ADDONS)
    sources = (REFERENCE / "SOURCES.md").read_text()
    for name, pin in EKS_ADDONS.items():
        assert re.fullmatch(r"v\d+\.\d+\.\d+-eksbuild\.\d+", pin.version), name
        assert pin.source and f"| {name} | {pin.version} |" in sources, name
    # kube-proxy follows the control plane's minor version exactly.
    assert EKS_ADDONS["kube-proxy"].version.startswith(f"v{KUBERNETES_VERSION}.")


@given(platforms())
def test_every_addon_is_installed_at_its_pinned_version(platform: Platform) -> None:
    for _, stack in stacks(resolve(platform, "spec.yaml")):
        addons = stack["resource"]["aws_eks_addon"]
        assert {body["addon_name"]: body["addon_version"] for body in addons.values()} == \
            {name: pin.version for name, pin in EKS_ADDONS.items()}


# -- identities ------------------------------------------------------------------------


@given(platforms())
def test_every_addon_that_calls_aws_has_exactly_one_identity(platform: Platform) -> None:
    for _, stack in stacks(resolve(platform, "spec.yaml")):
        resources = stack["resource"]
        standalone = {(a["namespace"], a["service_account"])
                      for a in resources["aws_eks_pod_identity_association"].values()}
        node_role_policies = {a["policy_arn"].rsplit("/", 1)[-1]
                              for a in resources["aws_iam_role_policy_attachment"].values()
                              if a["role"] == "${aws_iam_role.nodes.name}"}
        for body in resources["aws_eks_addon"].values():
            name = body["addon_name"]
            associations = body.get("pod_identity_association", [])
            assert "service_account_role_arn" not in body, name  # no IRSA beside Pod Identity
            how = CALLS_AWS.get(name)
            if how == "node":
                assert associations == [] and "AmazonEKS_CNI_Policy" in node_role_policies
            elif how:
                namespace, service_account = how.split("/")
                assert [a["service_account"] for a in associations] == [service_account], name
                assert (namespace, service_account) not in standalone, name  # not a second association
                role = resources["aws_iam_role"][role_label(associations[0]["role_arn"])]
                trust = statements(stack, role["assume_role_policy"])
                assert [p["identifiers"] for s in trust for p in s["principals"]] == [[POD_IDENTITY]]
            else:
                assert associations == [], name


def test_the_ebs_driver_role_has_the_managed_policy_and_only_the_environments_key() -> None:
    for _, stack in stacks(bundled()):
        resources = stack["resource"]
        attached = [a["policy_arn"] for a in resources["aws_iam_role_policy_attachment"].values()
                    if a["role"] == "${aws_iam_role.aws_ebs_csi_driver.name}"]
        assert attached == ["arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/"
                            "AmazonEBSCSIDriverPolicy"]
        inline = statements(stack, resources["aws_iam_role_policy"]["aws_ebs_csi_driver"]["policy"])
        assert {r for s in inline for r in s["resources"]} == {"${aws_kms_key.main.arn}"}


@given(platforms())
def test_fluent_bit_writes_only_to_the_clusters_container_log_groups(platform: Platform) -> None:
    for env, stack in stacks(resolve(platform, "spec.yaml")):
        resources = stack["resource"]
        assert not any(a["role"] == "${aws_iam_role.amazon_cloudwatch_observability.name}"
                       for a in resources["aws_iam_role_policy_attachment"].values())  # no CloudWatchAgentServerPolicy
        policy = resources["aws_iam_role_policy"]["amazon_cloudwatch_observability"]["policy"]
        groups = {f"${{aws_cloudwatch_log_group.containers_{kind}.arn}}" for kind in env.logs.groups}
        for each in statements(stack, policy):
            assert all(action.startswith("logs:") for action in each["actions"])
            assert {r.removesuffix(":log-stream:*") for r in each["resources"]} == groups


# -- logs ------------------------------------------------------------------------------


@given(platforms())
def test_container_logs_are_kept_as_the_spec_says_encrypted_and_created_before_fluent_bit(platform: Platform) -> None:
    keep_days = float(seconds(platform.logs.keep)) / 86400
    retention = min(days for days in LOG_RETENTION_DAYS if days >= keep_days)
    for env, stack in stacks(resolve(platform, "spec.yaml")):
        groups = stack["resource"]["aws_cloudwatch_log_group"]
        containers = {label: body for label, body in groups.items() if label.startswith("containers_")}
        assert sorted(body["name"] for body in containers.values()) == \
            sorted(container_log_group(env.cluster_name, kind) for kind in ("application", "dataplane", "host"))
        for body in containers.values():
            assert (body["retention_in_days"], body["kms_key_id"]) == (retention, "${aws_kms_key.main.arn}")
        cloudwatch = stack["resource"]["aws_eks_addon"]["amazon_cloudwatch_observability"]
        assert {f"aws_cloudwatch_log_group.{label}" for label in containers} <= set(cloudwatch["depends_on"])
        # The control plane: every log type on, in its own group made before the cluster.
        cluster = stack["resource"]["aws_eks_cluster"]["main"]
        assert {"api", "audit", "authenticator"} <= set(cluster["enabled_cluster_log_types"])
        assert "aws_cloudwatch_log_group.cluster" in cluster["depends_on"]


@pytest.mark.parametrize(("keep", "days"), [(0.5, 1), (1, 1), (2, 3), (30, 30), (31, 60), (366, 400), (3653, 3653)])
def test_retention_rounds_up_to_what_cloudwatch_accepts(keep: float, days: int) -> None:
    assert log_retention(keep) == days


@given(platforms())
def test_each_service_has_one_saved_query_over_its_own_containers(platform: Platform) -> None:
    for env, stack in stacks(resolve(platform, "spec.yaml")):
        queries = stack["resource"]["aws_cloudwatch_query_definition"]
        assert sorted(q["name"] for q in queries.values()) == \
            sorted(f"{env.platform}/{env.name}/{service.name}" for service in env.services)
        for query in queries.values():
            service = query["name"].rsplit("/", 1)[-1]
            assert query["log_group_names"] == ["${aws_cloudwatch_log_group.containers_application.name}"]
            assert f'kubernetes.namespace_name = "{env.namespace}"' in query["query_string"]
            assert f'kubernetes.container_name = "{env.service(service).container}"' in query["query_string"]


def test_the_logs_page_lists_every_saved_query_as_terraform_saves_it() -> None:
    plan = bundled()
    page = logs_page(plan)
    for env, stack in stacks(plan):
        for query in stack["resource"]["aws_cloudwatch_query_definition"].values():
            assert f"Saved as `{query['name']}`" in page
            assert f"```text\n{query['query_string']}\n```" in page
        for group in env.logs.groups.values():
            assert f"| `{group}` |" in page
    assert "## production" in page and "## staging" in page


# -- configuration the packaged charts accept -------------------------------------------


def configuration(name: str) -> dict[str, Any]:
    _, stack = stacks(bundled())[0]
    addon = next(body for body in stack["resource"]["aws_eks_addon"].values() if body["addon_name"] == name)
    return dict(json.loads(addon["configuration_values"]))


def test_the_ebs_driver_configuration_matches_its_charts_values_schema() -> None:
    schema = json.loads(EBS_VALUES_SCHEMA.read_text())
    values = configuration("aws-ebs-csi-driver")
    jsonschema.validate(values, schema)
    with pytest.raises(jsonschema.ValidationError):  # the schema refuses what the chart does not know
        jsonschema.validate({**values, "storageClass": []}, schema)
    [storage_class] = values["storageClasses"]
    assert storage_class["name"] == VOLUME_STORAGE_CLASS
    assert storage_class["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert storage_class["parameters"] == {"type": "gp3", "encrypted": "true", "kmsKeyId": "${aws_kms_key.main.arn}"}


def test_the_cloudwatch_configuration_sets_only_keys_of_its_chart_with_their_types() -> None:
    chart = yaml.safe_load(CLOUDWATCH_VALUES.read_text())

    def same_shape(ours: dict[str, Any], theirs: dict[str, Any], path: str = "") -> None:
        for key, value in ours.items():
            assert key in theirs, f"{path}{key} is not a value of the chart"
            if isinstance(value, dict):
                same_shape(value, theirs[key], f"{path}{key}.")
            else:
                assert type(value) is type(theirs[key]), f"{path}{key}"

    assert configuration("amazon-cloudwatch-observability") == CLOUDWATCH_CONFIGURATION
    same_shape(CLOUDWATCH_CONFIGURATION, chart)
    with pytest.raises(AssertionError):  # a misspelt key is caught
        same_shape({"containerLog": {"enabled": True}}, chart)
    # Fluent Bit on, the metered pipelines off.
    assert CLOUDWATCH_CONFIGURATION["containerLogs"] == {"enabled": True}
    assert CLOUDWATCH_CONFIGURATION["containerInsights"] == CLOUDWATCH_CONFIGURATION["applicationSignals"] == \
        {"enabled": False}
