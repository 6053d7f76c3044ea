"""Database migrations as Jobs of the release's migration image (issue 18): the Dockerfile's `migrate` stage, the
build that pushes it, the Jobs and their policy, and the deploy and migration workflows that run them."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given

from bizinfra.spec.models import Platform
from tests.strategies import platforms
from tests.support import bundled_tree
from tests.support.kubernetes import environments, kustomization, named, of_kind, rendered

MIGRATED = ("auth-service", "business-service", "inventory-service", "invoice-service")


def migration_folder(files: dict[str, bytes], env: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    folder = f"business-app/kubernetes/{env}/migrations"
    jobs = [d for d in yaml.safe_load_all(files[f"{folder}/jobs.yaml"]) if d]
    return jobs, yaml.safe_load(files[f"{folder}/kustomization.yaml"])


def test_each_service_with_a_database_has_a_hardened_migrate_and_rollback_job() -> None:
    files = bundled_tree()
    for env in ("staging", "production"):
        jobs, own = migration_folder(files, env)
        assert sorted(d["metadata"]["name"] for d in of_kind(jobs, "Job")) == sorted(
            f"{s}-{action}" for s in MIGRATED for action in ("migrate", "rollback"))
        assert [image["name"] for image in own["images"]] == [f"{s}-migration" for s in MIGRATED]
        workloads = [d for d in yaml.safe_load_all(files[f"business-app/kubernetes/{env}/workloads.yaml"]) if d]
        for job in of_kind(jobs, "Job"):
            spec, pod = job["spec"], job["spec"]["template"]["spec"]
            assert spec["backoffLimit"] == 0 and spec["activeDeadlineSeconds"] > 0 and spec["ttlSecondsAfterFinished"]
            assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "Never"
            (container,) = pod["containers"]
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["runAsNonRoot"] is True
            assert set(container["resources"]) == {"requests", "limits"}
            assert container["image"].endswith(":unreleased")
            # the same variables as the service's own container, so DATABASE_URL is wired once for both
            service = job["metadata"]["name"].rsplit("-", 1)[0]
            deployment = next(d for d in of_kind(workloads, "Deployment")
                              if d["metadata"]["labels"]["app.kubernetes.io/name"] == service)
            assert container["envFrom"] == deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]
            # its pods are never selected by the service's Service, nor by its policies
            selector = deployment["spec"]["selector"]["matchLabels"]
            assert not selector.items() <= job["spec"]["template"]["metadata"]["labels"].items()
        commands = {d["metadata"]["name"].rsplit("-", 1)[1]: d["spec"]["template"]["spec"]["containers"][0]["command"]
                    for d in of_kind(jobs, "Job")}
        assert commands == {"migrate": ["sh", "-c", "npx prisma migrate deploy"],
                            "rollback": ["sh", "-c", "npm run migrate:rollback"]}


def test_the_folder_s_kustomization_leaves_the_jobs_out() -> None:
    """The deploy's passes over the folder never apply a migration Job: only the migration step does."""
    files = bundled_tree()
    main = yaml.safe_load(files["business-app/kubernetes/staging/kustomization.yaml"])
    assert not [resource for resource in main["resources"] if "migration" in resource]


@given(platforms())
def test_migration_jobs_exist_exactly_for_the_services_with_a_database(platform: Platform) -> None:
    files = rendered(platform)
    postgres = {name for name, store in platform.datastores.items() if store.engine == "postgres"}
    with_database = sorted(name for name, service in platform.services.items() if set(service.uses) & postgres)
    for env, documents in environments(files).items():
        jobs = sorted(d["metadata"]["name"] for d in of_kind(documents, "Job")
                      if d["metadata"]["labels"].get("app.kubernetes.io/component") == "migration")
        assert jobs == sorted(f"{s}-{a}" for s in with_database for a in ("migrate", "rollback"))
        for service in with_database:
            policy = named(documents, "NetworkPolicy", f"{service}-migration")["spec"]
            assert policy["ingress"] == [] and [p["port"] for rule in policy["egress"] for p in rule["ports"]] == [
                platform.datastore_port(next(iter(set(platform.services[service].uses) & postgres)))]
        assert "migrations/jobs.yaml" not in kustomization(files, env)["resources"]
