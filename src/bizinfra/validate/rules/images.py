"""Rule `images are pinned`: what runs is what was reviewed."""

from __future__ import annotations

import re
from typing import Any

from bizinfra.validate.rules.documents import NAME, all_containers, containers, labels, meta, name_of, pod
from bizinfra.validate.rules.platform_files import PlatformFiles, Problem


def images_are_pinned(p: PlatformFiles) -> list[Problem]:
    """Every container of a Deployment or Job, init containers included, names its image with a tag that is not
    `latest` (a Deployment's is the placeholder a release replaces); a migration Job's is its service's (below)."""
    problems = migration_images_are_the_services(p)
    for env in p.environments("kubernetes"):
        for file, workload in p.workloads(env):
            for container in all_containers(workload):
                image = str(container.get("image", ""))
                if not _pinned(image):
                    problems.append(Problem(p.where(file), name_of(workload), f"container {container.get('name')} "
                                                                              f"runs '{image}', not a pinned tag"))
    return problems


def _pinned(image: str) -> bool:
    """`name:tag` with a tag other than `latest` (a colon in a registry host's port is not a tag)."""
    name, colon, tag = image.rpartition(":")
    return bool(colon and name and tag and "/" not in tag) and tag != "latest"


MIGRATION_COMPONENT, MIGRATION_SUFFIX = "migration", "-migration"
MIGRATE_STAGE = re.compile(r"^FROM\s+\S+\s+AS\s+migrate\s*$", re.MULTILINE | re.IGNORECASE)
DOCKERFILE, CI_CD = "docker/Dockerfile", "github/workflows/ci-cd.yml"


def migration_images_are_the_services(p: PlatformFiles) -> list[Problem]:
    """A service's migration Jobs run its own image's `migrate` stage: their image is set by the migrations
    kustomization to the repository of the service's Deployments or CronJob (`kustomization.yaml`), the Dockerfile has a
    `migrate` stage, and CI builds it."""
    problems = []
    has_jobs = False
    for env in p.environments("kubernetes"):
        released = _kustomized(p, f"kubernetes/{env}/kustomization.yaml")
        migrations = f"kubernetes/{env}/migrations/kustomization.yaml"
        kustomized = _kustomized(p, migrations)
        for file, job in p.kinds(env, "Job"):
            if labels(job).get("app.kubernetes.io/component") != MIGRATION_COMPONENT:
                continue
            has_jobs = True
            service = str(labels(pod(job)).get(NAME)).removesuffix(MIGRATION_SUFFIX)
            repositories = {released.get(str(meta(d).get("name")), "?")
                            for kind in ("Deployment", "CronJob") for _, d in p.kinds(env, kind)
                            if labels(d).get(NAME) == service}
            for container in containers(job):
                placeholder = str(container.get("image", "")).rpartition(":")[0]
                if placeholder not in kustomized:
                    problems.append(Problem(p.where(file), name_of(job), f"runs '{placeholder}', which "
                                                                         f"{migrations} does not release"))
                elif {kustomized[placeholder]} != repositories:
                    problems.append(Problem(p.where(migrations), name_of(job), f"releases {placeholder} from "
                                            f"'{kustomized[placeholder]}', not {service}'s repository "
                                            f"{', '.join(sorted(map(repr, repositories))) or '(none)'}"))
    if has_jobs and DOCKERFILE in p.files and not MIGRATE_STAGE.search(p.text(DOCKERFILE)):
        problems.append(Problem(p.where(DOCKERFILE), "stage migrate", "missing: the migration Jobs run it"))
    if has_jobs and CI_CD in p.files and not _builds_migrate_stage(p.first(CI_CD)):
        problems.append(Problem(p.where(CI_CD), "job build", "builds no migrate stage: the migration Jobs run it"))
    return problems


def _kustomized(p: PlatformFiles, path: str) -> dict[str, str]:
    """A kustomization's images: name -> the repository it becomes ('' when the release sets it, as with ECR)."""
    if path not in p.files:
        return {}
    return {str(entry.get("name")): str(entry.get("newName", "")) for entry in p.first(path).get("images") or []}


def _builds_migrate_stage(workflow: dict[str, Any]) -> bool:
    steps = ((workflow.get("jobs") or {}).get("build") or {}).get("steps") or []
    return any((step.get("with") or {}).get("target") == "migrate" for step in steps)
