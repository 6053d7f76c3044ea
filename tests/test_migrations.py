"""Database migrations as Jobs of the release's migration image (issue 18): the Dockerfile's `migrate` stage, the
build that pushes it, the Jobs and their policy, and the deploy and migration workflows that run them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given

from bizinfra.spec.loader import load_platform
from bizinfra.spec.models import Platform
from bizinfra.targets.github.workflows import migrated_services
from bizinfra.validate.tree import WorkflowLoader
from tests.strategies import platforms
from tests.support import bundled_tree, plan_of
from tests.support.deploy_runner import (
    STAND_INS,
    Run,
    calls,
    cluster,
    deploy_job,
    empty_cluster,
    images,
    run_job,
    run_step,
    workspace_with,
)
from tests.support.kubernetes import environments, kustomization, named, of_kind, rendered
from tests.support.workflow_runner import Event, JobResult, World

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
                *sorted({platform.datastore_port(store) for store in set(platform.services[service].uses) & postgres})]
        assert "migrations/jobs.yaml" not in kustomization(files, env)["resources"]



def test_a_cron_job_sharing_a_running_service_s_database_leaves_its_migrations_to_that_release() -> None:
    """tasks' billing-sync reads the api's database (`database: api`): the plan marks only the api as migrated, and
    both the Jobs and the workflows read that one fact."""
    plan = plan_of(load_platform(Path(__file__).resolve().parents[1] / "specs" / "tasks.yaml"))
    for env in plan.on("kubernetes"):
        assert env.service("billing-sync").database == env.service("api").database
        assert [service.name for service in env.migrated_services] == ["api"]
    assert migrated_services(plan) == ("api",)

# -- the deploy and migration workflows, run against the stand-ins ------------------------------------------------

MIGRATION_FAILS = "Error: P3018 A migration failed to apply. Migration name: 20260101_add_invoices\n"


def deploy_twice(tmp_path: Path, env: str, failing: dict[str, str]) -> tuple[Run, Path, dict[str, str]]:
    """A first release (a...) deployed; then a second (b...) whose migrations `failing` fail. The images the
    Deployments ran after the first, and the second run."""
    job = deploy_job(env)
    workspace = workspace_with(tmp_path / "repo", bundled_tree())
    state = empty_cluster(tmp_path / "state")
    assert run_job(job, workspace, state, "a" * 40).failed_step is None
    before = images(state)
    data = cluster(state)
    data["failing_jobs"] = failing
    (state / "cluster.json").write_text(json.dumps(data))
    return run_job(job, workspace, state, "b" * 40), state, before


@pytest.mark.slow
def test_a_release_s_migrations_run_with_its_migration_image_before_it_is_applied(tmp_path: Path) -> None:
    state = empty_cluster(tmp_path / "state")
    run = run_job(deploy_job("staging"), workspace_with(tmp_path / "repo", bundled_tree()), state, "a" * 40)
    assert run.failed_step is None, run
    migrations = sorted(j for j in cluster(state)["jobs_run"] if "bootstrap" not in j)
    assert migrations == [f"{s}-migrate=ghcr.io/acme/business/{s}:sha-{'a' * 40}-migrate" for s in MIGRATED]
    log = calls(state)
    migrated = max(i for i, c in enumerate(log) if c.startswith("kubectl get job") and "-migrate" in c)
    release = next(i for i, c in enumerate(log) if "--applyset" in c)
    assert migrated < release
    assert not [k for k in cluster(state)["objects"] if k.endswith("-rollback")]  # never a rollback Job


@pytest.mark.slow
@pytest.mark.parametrize("env", ["staging", "production"])
def test_a_failed_migration_stops_the_deploy_before_traffic_moves(tmp_path: Path, env: str) -> None:
    run, state, before = deploy_twice(tmp_path, env, {"invoice-service-migrate": MIGRATION_FAILS})
    assert run.failed_step == "Wait for the migration of invoice-service", run
    assert "Apply the release" not in run.ran
    assert images(state) == before  # rolling: every Deployment keeps the old image; blue-green: both slots
    assert any(c.startswith("kubectl logs job/invoice-service-migrate") for c in calls(state))
    if env == "production":  # blue-green: every Service still selects the slot that was live
        objects = cluster(state)["objects"]
        assert {objects[f"Service/business-app/{s}"]["spec"]["selector"]["bizinfra.dev/slot"]
                for s in ("api-gateway", *MIGRATED)} == {"green"}


def test_a_failed_migration_prints_its_log_and_fails(tmp_path: Path) -> None:
    """The wait step alone, as the deploy runs it: the pod's log reaches the job's log, and the step fails."""
    state = empty_cluster(tmp_path / "state")
    data = cluster(state)
    data["objects"]["Job/business-app/auth-service-migrate"] = {
        "kind": "Job", "metadata": {"name": "auth-service-migrate", "namespace": "business-app"},
        "status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    data["job_logs"] = {"auth-service-migrate": MIGRATION_FAILS}
    data["context_namespace"] = "business-app"
    (state / "cluster.json").write_text(json.dumps(data))
    (wait,) = [s for s in deploy_job("staging")["steps"] if s["name"] == "Wait for the migration of auth-service"]
    result, _ = run_step(wait, state, tmp_path, job_env={"NAMESPACE": "business-app"})
    assert result.returncode == 1
    assert MIGRATION_FAILS in result.stdout
    assert "::error::auth-service-migrate failed" in result.stdout


def migration_workflow() -> dict[str, Any]:
    return yaml.load(bundled_tree()["business-app/github/workflows/database-migration.yml"], Loader=WorkflowLoader)


def rollback_run(tmp_path: Path, failing: dict[str, str]) -> tuple[JobResult, Path]:
    """Staging deployed (release a...), then database-migration.yml's rollback of auth-service."""
    world = World(tmp_path / "world", workspace_with(tmp_path / "repo", bundled_tree()), [])
    for tool in ("kubectl", "kustomize", "aws"):
        world.add_stand_in(tool, STAND_INS / tool)
    state = empty_cluster(world.state)
    assert run_job(deploy_job("staging"), tmp_path / "repo", state, "a" * 40).failed_step is None
    data = cluster(state)
    data["failing_jobs"] = failing
    (state / "cluster.json").write_text(json.dumps(data))
    event = Event("workflow_dispatch", "refs/heads/main", "acme/business", {"inputs": {
        "environment": "staging", "service": "auth-service", "action": "rollback"}})
    results = world.run_workflow(migration_workflow(), event, only=["migrate-staging"])
    return results["migrate-staging"], state


@pytest.mark.slow
def test_the_rollback_runs_the_live_release_s_migration_image_and_leaves_the_rest(tmp_path: Path) -> None:
    result, state = rollback_run(tmp_path, {})
    assert result.status == "success", result.log
    assert cluster(state)["jobs_run"][-1] == f"auth-service-rollback=ghcr.io/acme/business/auth-service:sha-{'a' * 40}-migrate"
    objects = cluster(state)["objects"]
    assert "Job/business-app/auth-service-migrate" in objects  # only the rollback Job was applied
    assert not [k for k in objects if k.endswith("-rollback") and "auth-service" not in k]
    assert not [c for c in calls(state) if c.startswith("kubectl exec")]


@pytest.mark.slow
def test_a_failed_rollback_fails_the_workflow_with_its_log(tmp_path: Path) -> None:
    result, _ = rollback_run(tmp_path, {"auth-service-rollback": "npm error Missing script: \"migrate:rollback\"\n"})
    assert result.status == "failure"
    assert 'Missing script: "migrate:rollback"' in result.log
