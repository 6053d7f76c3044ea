"""Terraform references and ARNs: a handle names what it declares, every reference names a declared block, and
every ARN is written in the partition of the region the stack runs in, by Terraform and by the workflows alike."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import given, settings

from bizinfra.naming import arn
from bizinfra.plan import aws_partition, resolve
from bizinfra.spec.models import Platform
from bizinfra.targets.terraform import environment_files
from bizinfra.targets.terraform.handles import Data, Resource
from bizinfra.validate.terraform import check_references, load_schema
from tests.strategies import corner_specs
from tests.support import SPECS
from tests.support.rules import files_of, problems, replace

GOVCLOUD = "us-gov-west-1"
WORKFLOW = "business-app/github/workflows/ci-cd.yml"


# -- handles -----------------------------------------------------------------------------


def test_a_resource_handle_declares_and_references_one_address() -> None:
    role = Resource("aws_iam_role", "deploy")
    assert role.address == "aws_iam_role.deploy"
    assert role.ref("arn") == "${aws_iam_role.deploy.arn}"
    assert role.declare({"name": "x"}) == {"resource": {"aws_iam_role": {"deploy": {"name": "x"}}}}


def test_a_data_handle_references_under_data() -> None:
    account = Data("aws_caller_identity", "current")
    assert account.address == "data.aws_caller_identity.current"
    assert account.ref("account_id") == "${data.aws_caller_identity.current.account_id}"
    assert account.declare({}) == {"data": {"aws_caller_identity": {"current": {}}}}


def test_a_handle_references_a_splat_an_index_or_the_whole_block() -> None:
    subnets = Resource("aws_subnet", "private")
    assert subnets.ref("[*].id") == "${aws_subnet.private[*].id}"
    assert subnets.ref("[count.index].id") == "${aws_subnet.private[count.index].id}"
    assert subnets.ref() == "${aws_subnet.private}"


@settings(max_examples=25)
@given(corner_specs())
def test_every_reference_names_a_declared_block(spec: dict[str, Any]) -> None:
    """The corners reach what typical platforms do not (GovCloud, no data stores, a deploy role, no public
    service); the offline checker says whether each `${...}` and `depends_on` names a declared block."""
    for env in resolve(Platform.model_validate(spec), "spec.yaml").on("kubernetes"):
        files = json.loads(json.dumps(environment_files(env)))
        assert check_references(files, load_schema("6.47.0")) == []


# -- ARNs --------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "expected"), [
    ({"service": "iam", "resource": "role/deploy", "account": "123", "partition": "aws-us-gov"},
     "arn:aws-us-gov:iam::123:role/deploy"),
    ({"service": "eks", "resource": "cluster/main", "region": "cn-north-1", "account": "1", "partition": "aws-cn"},
     "arn:aws-cn:eks:cn-north-1:1:cluster/main"),
    ({"service": "iam", "resource": "policy/AmazonEKSClusterPolicy", "account": "aws", "partition": "aws"},
     "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"),
])
def test_one_builder_writes_every_arn(fields: dict[str, str], expected: str) -> None:
    assert arn(**fields) == expected


def govcloud_tree() -> dict[str, bytes]:
    spec = yaml.safe_load((SPECS / "business-app.yaml").read_text())
    spec["environments"]["production"]["recovery"]["region"] = "us-gov-east-1"  # a standby in the same partition
    return files_of({**spec, "region": GOVCLOUD})


def roles_assumed(files: dict[str, bytes]) -> list[str]:
    workflow = yaml.safe_load(files[WORKFLOW])
    return [step["with"]["role-to-assume"] for job in workflow["jobs"].values() for step in job.get("steps", [])
            if "role-to-assume" in step.get("with", {})]


def test_in_govcloud_the_workflows_assume_the_role_terraform_creates_in_its_partition() -> None:
    files = govcloud_tree()
    assumed = roles_assumed(files)
    assert assumed
    for env in ("production", "staging"):
        terraform = json.loads(files[f"business-app/terraform/{env}/main.tf.json"])
        region = terraform["provider"]["aws"]["region"]
        role = json.loads(files[f"business-app/terraform/{env}/deploy.tf.json"])["resource"]["aws_iam_role"]["deploy"]
        # Terraform writes its ARNs in the partition of the provider's region: the workflow must name the same one.
        expected = arn("iam", f"role/{role['name']}", account="${{ vars.AWS_ACCOUNT_ID }}",
                       partition=aws_partition(region))
        assert expected.startswith("arn:aws-us-gov:iam::")
        assert expected in assumed


def test_in_govcloud_no_file_writes_an_arn_in_the_aws_partition() -> None:
    """Terraform looks its partition up; every other target writes the plan's."""
    assert [path for path, text in govcloud_tree().items() if b"arn:aws:" in text] == []


def test_in_govcloud_the_names_rule_still_reads_the_role_a_workflow_assumes() -> None:
    """A pattern that only knows `arn:aws:` would skip a GovCloud ARN, and so pass any role name."""
    files = govcloud_tree()
    assert problems(files, "names agree across targets") == []
    broken = replace(files, WORKFLOW, b":role/business-app-staging-deploy", b":role/business-app-stage-deploy")
    assert problems(broken, "names agree across targets") == [
        f"{WORKFLOW}: job deploy-staging: assumes role business-app-stage-deploy, which is not an aws_iam_role of "
        "terraform/staging or terraform/bootstrap (Terraform creates it once the spec sets delivery.repository)"]
