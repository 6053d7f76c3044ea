"""Rule `names agree across targets`: a name one target uses for another target's object exists there."""

from __future__ import annotations

import json
from typing import Any

from tests.support import bundled_tree
from tests.support.rules import edit_json, edit_yaml, problems, replace

RULE = "names agree across targets"
WORKFLOW = "business-app/github/workflows/ci-cd.yml"


def test_the_generated_tree_passes() -> None:
    assert problems(bundled_tree(), RULE) == []


def test_a_workflow_naming_a_deployment_that_is_not_generated_is_named() -> None:
    files = replace(bundled_tree(), WORKFLOW, b"DEPLOYMENT: auth-service\n", b"DEPLOYMENT: auth\n")
    assert problems(files, RULE) == [f"{WORKFLOW}: job deploy-staging: Deployment auth is not in kubernetes/staging"]


def test_a_deploy_waiting_for_a_job_that_is_not_generated_is_named() -> None:
    files = replace(bundled_tree(), WORKFLOW, b"JOB: postgres-bootstrap\n", b"JOB: orders-bootstrap\n", count=2)
    assert problems(files, RULE) == [
        f"{WORKFLOW}: job deploy-{env}: Job orders-bootstrap is not in kubernetes/{env}"
        for env in ("production", "staging")]


def test_a_workflow_assuming_a_role_terraform_does_not_create_is_named() -> None:
    files = replace(bundled_tree(), WORKFLOW, b":role/business-app-staging-deploy", b":role/business-app-stage-deploy")
    assert problems(files, RULE) == [
        f"{WORKFLOW}: job deploy-staging: assumes role business-app-stage-deploy, which is not an aws_iam_role of "
        "terraform/staging or terraform/bootstrap (Terraform creates it once the spec sets delivery.repository)"]


def test_a_runbook_cluster_terraform_does_not_create_is_named() -> None:
    path = "business-app/scripts/rollback.sh"
    files = replace(bundled_tree(), path, b'cluster="business-app-staging"', b'cluster="business-app-stage"')
    assert problems(files, RULE) == [
        f"{path}: cluster: 'business-app-stage' is not an aws_eks_cluster of Terraform "
        "(business-app-production, business-app-staging)"]


def test_a_pod_identity_role_that_is_not_declared_is_named() -> None:
    path = "business-app/terraform/production/eks.tf.json"

    def point_elsewhere(document: dict[str, Any]) -> None:
        document["resource"]["aws_eks_pod_identity_association"]["velero"]["role_arn"] = "${aws_iam_role.backups.arn}"
    assert problems(edit_json(bundled_tree(), path, point_elsewhere), RULE) == [
        f"{path}: aws_eks_pod_identity_association.velero: role_arn ${{aws_iam_role.backups.arn}} is not a declared "
        "aws_iam_role"]


def test_a_job_without_its_service_account_is_named() -> None:
    path = "business-app/kubernetes/staging/database-bootstrap.yaml"
    files = edit_yaml(bundled_tree(), path, "Job", "postgres-bootstrap",
                      lambda job: job["spec"]["template"]["spec"].update(serviceAccountName="nobody"))
    assert problems(files, RULE) == [f"{path}: Job/postgres-bootstrap: runs as ServiceAccount nobody, which is not "
                                     "generated"]


def test_the_infrastructure_roles_are_checked_against_the_bootstrap_stack() -> None:
    """The bootstrap stack makes the infrastructure roles: the apply job's role must be declared there (or in the
    environment's stack)."""
    path = "business-app/github/workflows/infrastructure.yml"
    roles = "business-app/terraform/bootstrap/roles.tf.json"
    document = json.loads(bundled_tree()[roles])
    del document["resource"]["aws_iam_role"]["production_infrastructure"]
    files = {**bundled_tree(), roles: json.dumps(document).encode()}
    assert problems(files, RULE) == [
        f"{path}: job apply-production: assumes role business-app-production-infrastructure, which is not an "
        "aws_iam_role of terraform/production or terraform/bootstrap (Terraform creates it once the spec sets "
        "delivery.repository)"]


INFRASTRUCTURE = "business-app/github/workflows/infrastructure.yml"
ROLES = "business-app/terraform/bootstrap/roles.tf.json"


def test_a_read_only_job_assuming_a_role_no_stack_declares_is_named() -> None:
    files = replace(bundled_tree(), INFRASTRUCTURE, b":role/business-app-staging-infrastructure-drift",
                    b":role/business-app-staging-infrastructure-watch")
    assert problems(files, RULE) == [f"{INFRASTRUCTURE}: job drift-staging: assumes role "
                                     "business-app-staging-infrastructure-watch, which no Terraform stack declares"]


def test_a_job_assuming_a_role_that_does_not_trust_it_is_named() -> None:
    """The drift check runs on main's ref; the plan role trusts pull requests only."""
    files = replace(bundled_tree(), INFRASTRUCTURE, b":role/business-app-staging-infrastructure-drift",
                    b":role/business-app-staging-infrastructure-plan")
    assert problems(files, RULE) == [
        f"{INFRASTRUCTURE}: job drift-staging: runs as ref:refs/heads/main, which role "
        "business-app-staging-infrastructure-plan does not trust (it trusts repo:acme/business:pull_request)"]


def test_a_trust_policy_that_no_longer_admits_its_jobs_is_named() -> None:
    def trust_every_branch(document: dict[str, Any]) -> None:
        (statement,) = document["data"]["aws_iam_policy_document"]["production_plan_trust"]["statement"]
        (sub,) = [c for c in statement["condition"] if c["variable"].endswith(":sub")]
        sub["values"] = ["repo:acme/business:ref:refs/heads/*"]
    assert problems(edit_json(bundled_tree(), ROLES, trust_every_branch), RULE) == [
        f"{INFRASTRUCTURE}: job plan-production: runs as pull_request, which role "
        "business-app-production-infrastructure-plan does not trust (it trusts repo:acme/business:ref:refs/heads/*)"]


def test_an_environment_job_assuming_a_branch_role_is_named() -> None:
    files = replace(bundled_tree(), INFRASTRUCTURE, b":role/business-app-production-infrastructure\n",
                    b":role/business-app-production-infrastructure-drift\n")
    assert problems(files, RULE) == [
        f"{INFRASTRUCTURE}: job apply-production: runs as environment:production, which role "
        "business-app-production-infrastructure-drift does not trust (it trusts "
        "repo:acme/business:ref:refs/heads/main)"]
