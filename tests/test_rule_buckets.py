"""Rule `buckets agree across targets`: a service finds the bucket it declares, and only its own service reaches it."""

from __future__ import annotations

from typing import Any

from tests.support import bundled_tree
from tests.support.rules import edit_json, edit_yaml, problems, replace

RULE = "buckets agree across targets"
CONFIGMAPS = "business-app/kubernetes/staging/configmaps.yaml"
BUCKETS = "business-app/terraform/staging/buckets.tf.json"
COMPOSE = "business-app/compose/docker-compose.yml"


def test_the_generated_tree_passes() -> None:
    assert problems(bundled_tree(), RULE) == []


def test_a_config_map_naming_a_bucket_terraform_does_not_create_is_named() -> None:
    files = edit_yaml(bundled_tree(), CONFIGMAPS, "ConfigMap", "invoice-service-config",
                      lambda config: config["data"].update(DOCUMENTS_BUCKET="business-app-com-production-documents"))
    assert problems(files, RULE) == sorted([
        f"{CONFIGMAPS}: ConfigMap of invoice-service: DOCUMENTS_BUCKET names bucket "
        "business-app-com-production-documents, which terraform/staging does not create",
        f"{BUCKETS}: role of invoice-service: reaches buckets business-app-com-staging-documents; invoice-service uses "
        "business-app-com-production-documents"])


def test_a_service_without_its_bucket_variable_is_named() -> None:
    files = edit_yaml(bundled_tree(), CONFIGMAPS, "ConfigMap", "invoice-service-config",
                      lambda config: config["data"].pop("DOCUMENTS_BUCKET"))
    assert problems(files, RULE) == [
        f"{CONFIGMAPS}: ConfigMap of invoice-service: has no DOCUMENTS_BUCKET, though invoice-service uses bucket "
        "documents"]


def test_a_role_reaching_another_bucket_is_named() -> None:
    def widen(document: dict[str, Any]) -> None:
        statements = document["data"]["aws_iam_policy_document"]["app_invoice_service"]["statement"]
        statements[1]["resources"].append("${aws_s3_bucket.backups.arn}/*")
    files = edit_json(bundled_tree(), BUCKETS, widen)
    assert problems(files, RULE) == [
        f"{BUCKETS}: role of invoice-service: reaches buckets business-app-com-staging-backups, "
        "business-app-com-staging-documents; invoice-service uses business-app-com-staging-documents"]


def test_a_bucket_role_given_to_another_service_account_is_named() -> None:
    def move(document: dict[str, Any]) -> None:
        document["resource"]["aws_eks_pod_identity_association"]["app_invoice_service"]["service_account"] = \
            "auth-service"
    files = edit_json(bundled_tree(), BUCKETS, move)
    assert problems(files, RULE) == sorted([
        f"{BUCKETS}: role of auth-service: reaches buckets business-app-com-staging-documents, though no service "
        "using a bucket runs as ServiceAccount auth-service",
        f"{BUCKETS}: role of invoice-service: reaches buckets none; invoice-service uses "
        "business-app-com-staging-documents"])


def test_compose_naming_a_bucket_the_stand_in_does_not_create_is_named() -> None:
    files = replace(bundled_tree(), COMPOSE, b"DOCUMENTS_BUCKET: business-app-com-development-documents",
                    b"DOCUMENTS_BUCKET: documents")
    assert problems(files, RULE) == [
        f"{COMPOSE}: service invoice-service: DOCUMENTS_BUCKET names bucket documents, which the S3 stand-in does not "
        "create"]


def test_compose_without_the_bucket_variable_is_named() -> None:
    files = replace(bundled_tree(), COMPOSE, b"      DOCUMENTS_BUCKET: business-app-com-development-documents\n", b"")
    assert problems(files, RULE) == [
        f"{COMPOSE}: service invoice-service: has no DOCUMENTS_BUCKET, though it uses bucket documents"]
