"""Rule `secrets are references`: every secret a service reads comes from Secrets Manager, on every side."""

from __future__ import annotations

from typing import Any

from tests.support import bundled_tree
from tests.support.rules import edit_yaml, problems, replace

RULE = "secrets are references"


def test_the_generated_tree_passes() -> None:
    assert problems(bundled_tree(), RULE) == []


def test_a_secret_terraform_does_not_create_is_named() -> None:
    files = edit_yaml(bundled_tree(), "business-app/kubernetes/production/secrets.yaml", "ExternalSecret",
                      "auth-service-secrets",
                      lambda secret: secret["spec"]["data"][0]["remoteRef"].update(key="business-app/production/x"))
    assert problems(files, RULE) == [
        "business-app/kubernetes/production/secrets.yaml: ExternalSecret/auth-service-secrets: DB_PASSWORD reads "
        "business-app/production/x, which Terraform does not create"]


def test_a_job_reading_a_secret_nothing_creates_is_named() -> None:
    path = "business-app/kubernetes/staging/database-bootstrap.yaml"

    def rename(job: dict[str, Any]) -> None:
        job["spec"]["template"]["spec"]["containers"][0]["env"][-1]["valueFrom"]["secretKeyRef"]["name"] = "missing"
    files = edit_yaml(bundled_tree(), path, "Job", "postgres-bootstrap", rename)
    assert problems(files, RULE) == [
        f"{path}: Job/postgres-bootstrap: reads Secret missing, which no ExternalSecret creates"]


def test_a_value_in_compose_where_a_reference_belongs_is_named() -> None:
    path = "business-app/compose/docker-compose.yml"
    files = replace(bundled_tree(), path, b'JWT_SECRET: "${JWT_SECRET:?set JWT_SECRET in .env: run ./make-env.sh}"',
                    b"JWT_SECRET: correct-horse-battery")
    assert problems(files, RULE) == [
        f"{path}: service auth-service: JWT_SECRET must be a ${{VAR}} reference (Kubernetes reads it from Secrets "
        "Manager), got a value"]


def test_a_compose_file_that_does_not_parse_is_left_to_the_parse_check() -> None:
    """One line for a broken file (from "YAML and JSON files parse"), not one per secret it no longer shows."""
    path = "business-app/compose/docker-compose.yml"
    files = {**bundled_tree(), path: bundled_tree()[path] + b"services: [unclosed\n"}
    assert problems(files, RULE) == []


def test_an_external_secret_in_a_namespace_the_store_does_not_admit_is_named() -> None:
    """The store admits the monitoring stack's namespace only because the receivers' Secret lives there."""
    path = "business-app/kubernetes/production/secrets.yaml"
    files = edit_yaml(bundled_tree(), path, "ClusterSecretStore", "aws-secrets-manager",
                      lambda store: store["spec"]["conditions"][0].update(namespaces=["business-app"]))
    assert problems(files, RULE) == [
        f"{path}: ExternalSecret/business-app-alert-receivers: is in namespace monitoring, which ClusterSecretStore "
        "aws-secrets-manager does not admit (business-app)"]


def test_a_receiver_file_no_external_secret_fills_is_named() -> None:
    path = "business-app/monitoring/staging/alertmanager.yml"
    files = replace(bundled_tree(), path, b"business-app-alert-receivers/on-call", b"business-app-alert-receivers/pager")
    assert problems(files, RULE) == [
        f"{path}: receiver on-call: pagerduty_configs.routing_key_file reads key pager of Secret "
        "business-app-alert-receivers, which no ExternalSecret in namespace monitoring fills"]


def test_the_receivers_secret_outside_the_stack_namespace_is_named() -> None:
    """Alertmanager mounts Secrets of its own namespace only: the ExternalSecret moved elsewhere leaves it unread."""
    tree = bundled_tree()
    for env in ("production", "staging"):
        tree = edit_yaml(tree, f"business-app/kubernetes/{env}/secrets.yaml", "ExternalSecret",
                         "business-app-alert-receivers", lambda secret: secret["metadata"].update(namespace="business-app"))
    found = problems(tree, RULE)
    assert len(found) == 2 * 3 and all("which no ExternalSecret in namespace monitoring fills" in line for line in found)


def test_a_pull_secret_nothing_creates_is_named() -> None:
    """The registry's token reaches the pods only through the ExternalSecret: a Deployment naming another pull Secret
    would never pull, and one without the ExternalSecret neither."""
    path = "business-app/kubernetes/staging/secrets.yaml"
    files = edit_yaml(bundled_tree(), path, "ExternalSecret", "registry-credentials",
                      lambda secret: secret["spec"]["target"].update(name="renamed"))
    found = problems(files, RULE)
    # the five services' Deployments and the four migrated services' two Jobs each
    assert len(found) == 5 + 4 * 2 and all(
        "pulls with Secret registry-credentials, which no ExternalSecret creates" in problem for problem in found)


def test_the_pull_token_is_a_secret_terraform_creates() -> None:
    files = replace(bundled_tree(), "business-app/terraform/staging/registry.tf.json",
                    b'"name": "business-app/staging/registry"', b'"name": "business-app/staging/other"')
    assert problems(files, RULE) == [
        "business-app/kubernetes/staging/secrets.yaml: ExternalSecret/registry-credentials: token reads "
        "business-app/staging/registry, which Terraform does not create",
        "business-app/kubernetes/staging/secrets.yaml: ExternalSecret/registry-credentials: username reads "
        "business-app/staging/registry, which Terraform does not create"]


def test_a_connection_string_reading_a_key_its_secret_lacks_is_named() -> None:
    path = "business-app/kubernetes/production/secrets.yaml"

    def misspell(secret: dict[str, Any]) -> None:
        template = secret["spec"]["target"]["template"]["data"]
        template["DATABASE_URL"] = template["DATABASE_URL"].replace(".DB_PASSWORD ", ".DB_PASS ")
    files = edit_yaml(bundled_tree(), path, "ExternalSecret", "auth-service-secrets", misspell)
    assert problems(files, RULE) == [
        f"{path}: ExternalSecret/auth-service-secrets: template DATABASE_URL reads DB_PASS, which no data item fills"]


def test_a_database_role_no_bootstrap_sets_is_named() -> None:
    """A service logging in as a role whose password the bootstrap Job does not set (its role secret dropped from the
    Job's ExternalSecret) would fail to log in, or log in as a role another service shares."""
    path = "business-app/kubernetes/staging/database-bootstrap.yaml"
    role = "business-app/staging/postgres/auth_service"

    def drop(secret: dict[str, Any]) -> None:
        secret["spec"]["data"] = [item for item in secret["spec"]["data"] if item["remoteRef"]["key"] != role]
    files = edit_yaml(bundled_tree(), path, "ExternalSecret", "postgres-bootstrap", drop)
    assert problems(files, RULE) == [
        "business-app/kubernetes/staging/secrets.yaml: ExternalSecret/auth-service-secrets: DB_USERNAME logs in as "
        f"the role of {role}, whose password no database bootstrap Job sets"]
    # and pointed at another service's role: the same
    other = edit_yaml(bundled_tree(), "business-app/kubernetes/staging/secrets.yaml", "ExternalSecret",
                      "auth-service-secrets", lambda secret: [item["remoteRef"].update(key=role.replace("auth", "x"))
                                                              for item in secret["spec"]["data"]
                                                              if item["secretKey"] == "DB_USERNAME"])
    assert any("DB_USERNAME logs in as the role of business-app/staging/postgres/x_service" in line
               for line in problems(other, RULE))
