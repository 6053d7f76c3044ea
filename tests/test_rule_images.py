"""Rule `images are pinned`: every container names its image with a tag other than `latest`."""

from __future__ import annotations

from typing import Any

from tests.support import bundled_tree
from tests.support.rules import edit_yaml, problems

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
