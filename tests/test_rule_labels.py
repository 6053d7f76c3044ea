"""Rule `labels reach their objects`: every object carries its environment's labels, and every selector selects."""

from __future__ import annotations

from typing import Any

from bizinfra.validate.rules.documents import NAME
from tests.support import bundled_tree
from tests.support.rules import edit_yaml, problems

RULE = "labels reach their objects"


def test_the_generated_tree_passes() -> None:
    assert problems(bundled_tree(), RULE) == []


def test_a_label_a_patch_removes_is_named() -> None:
    files = edit_yaml(bundled_tree(), "business-app/kubernetes/staging/configmaps.yaml", "ConfigMap", "auth-service-config",
                      lambda config: config["metadata"]["labels"].pop("bizinfra.dev/environment"))
    assert problems(files, RULE) == [
        "business-app/kubernetes/staging/configmaps.yaml: ConfigMap/auth-service-config: labels lack "
        "bizinfra.dev/environment=staging"]


def test_a_selector_that_selects_no_pod_is_named() -> None:
    files = edit_yaml(bundled_tree(), "business-app/kubernetes/staging/workloads.yaml", "Service",
                      "auth-service", lambda service: service["spec"]["selector"].update({NAME: "auth"}))
    assert problems(files, RULE) == [
        "business-app/kubernetes/staging/workloads.yaml: Service/auth-service: selector "
        "app.kubernetes.io/name=auth,app.kubernetes.io/part-of=business-app selects no pod"]


def test_a_job_pod_template_without_the_environment_label_is_named() -> None:
    path = "business-app/kubernetes/staging/database-bootstrap.yaml"

    def strip(job: dict[str, Any]) -> None:
        job["spec"]["template"]["metadata"]["labels"].pop("bizinfra.dev/environment")
    assert problems(edit_yaml(bundled_tree(), path, "Job", "postgres-bootstrap", strip), RULE) == [
        f"{path}: Job/postgres-bootstrap: pod template labels lack bizinfra.dev/environment=staging"]
