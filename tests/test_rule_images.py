"""Rule `images are pinned`: every container names its image with a tag other than `latest`."""

from __future__ import annotations

from typing import Any

from tests.support import bundled_tree
from tests.support.rules import edit_yaml, problems, replace

RULE = "images are pinned"
BOOTSTRAP = "business-app/kubernetes/staging/database-bootstrap.yaml"


def test_the_generated_tree_passes() -> None:
    assert problems(bundled_tree(), RULE) == []


def test_a_bootstrap_image_without_a_pinned_tag_is_named() -> None:
    def unpin(job: dict[str, Any]) -> None:
        job["spec"]["template"]["spec"]["initContainers"][0]["image"] = "amazon/aws-cli:latest"
        job["spec"]["template"]["spec"]["containers"][0]["image"] = "postgres"
    files = edit_yaml(bundled_tree(), BOOTSTRAP, "Job", "postgres-bootstrap", unpin)
    assert problems(files, RULE) == [
        f"{BOOTSTRAP}: Job/postgres-bootstrap: container bootstrap runs 'postgres', not a pinned tag",
        f"{BOOTSTRAP}: Job/postgres-bootstrap: container read-master-secret runs 'amazon/aws-cli:latest', "
        "not a pinned tag"]


def test_a_registry_port_is_not_a_tag() -> None:
    files = edit_yaml(bundled_tree(), BOOTSTRAP, "Job", "postgres-bootstrap",
                      lambda job: job["spec"]["template"]["spec"]["containers"][0].update(image="registry:5000/postgres"))
    assert problems(files, RULE) == [
        f"{BOOTSTRAP}: Job/postgres-bootstrap: container bootstrap runs 'registry:5000/postgres', not a pinned tag"]


MIGRATIONS = "business-app/kubernetes/staging/migrations/kustomization.yaml"
MIGRATION_JOBS = "business-app/kubernetes/staging/migrations/jobs.yaml"


def test_a_migration_image_from_another_repository_is_named() -> None:
    files = replace(bundled_tree(), MIGRATIONS, b"newName: ghcr.io/acme/business/auth-service\n",
                    b"newName: ghcr.io/acme/business/billing\n")
    assert problems(files, RULE) == [
        f"{MIGRATIONS}: Job/auth-service-{action}: releases auth-service-migration from "
        "'ghcr.io/acme/business/billing', not auth-service's repository 'ghcr.io/acme/business/auth-service'"
        for action in ("migrate", "rollback")]


def test_a_migration_job_whose_image_no_release_sets_is_named() -> None:
    files = edit_yaml(bundled_tree(), MIGRATION_JOBS, "Job", "invoice-service-migrate",
                      lambda job: job["spec"]["template"]["spec"]["containers"][0].update(image="tool:unreleased"))
    assert problems(files, RULE) == [
        f"{MIGRATION_JOBS}: Job/invoice-service-migrate: runs 'tool', which "
        "kubernetes/staging/migrations/kustomization.yaml does not release"]


def test_a_dockerfile_without_the_migrate_stage_is_named() -> None:
    files = replace(bundled_tree(), "business-app/docker/Dockerfile", b"FROM builder AS migrate\n",
                    b"FROM builder AS tools\n")
    assert problems(files, RULE) == [
        "business-app/docker/Dockerfile: stage migrate: missing: the migration Jobs run it"]


def test_a_build_without_the_migrate_stage_is_named() -> None:
    files = replace(bundled_tree(), "business-app/github/workflows/ci-cd.yml", b"target: migrate\n", b"target: app\n")
    assert problems(files, RULE) == [
        "business-app/github/workflows/ci-cd.yml: job build: builds no migrate stage: the migration Jobs run it"]
