"""The steps that build and run the services' migration Jobs (targets/kubernetes/migrations.py).

- build: beside each service's image, its migration image, the Dockerfile's `migrate` stage, in the same repository
  under the release's tag plus `-migrate` (one repository per service, so ECR's repositories, lifecycle rules and
  the push role need nothing new);
- deploy: after what the workloads need is applied and its secrets synced, and before the release is applied (the
  rolling update) or any slot is touched (blue-green), the previous release's migrate Jobs go and this release's run;
  the deploy waits for each to complete, and on a failure prints its logs and stops: traffic never moves;
- by hand (database-migration.yml): the chosen service's migrate or rollback Job, from the migration image of the
  release that is live.

Scripts read every name from `env:`, as in workflows.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from bizinfra.naming import (
    MIGRATE_STAGE,
    MIGRATION_ACTION_LABEL,
    MIGRATION_COMPONENT,
    MIGRATION_DEADLINE_SECONDS,
    MIGRATION_TAG_SUFFIX,
    MIGRATIONS_FOLDER,
    PART_OF_LABEL,
    SERVICE_NAME_LABEL,
    migration_job,
    migration_name,
)
from bizinfra.plan import EnvironmentPlan, PlatformPlan, ServicePlan
from bizinfra.targets.github.actions import uses
from bizinfra.targets.github.steps import minutes_for

Document = dict[str, Any]
WAIT_SECONDS = MIGRATION_DEADLINE_SECONDS + 60  # the Job's own deadline fails it first; this only guards a lost Job
POLL_SECONDS = 5


def step(name: str, run: str, env: Mapping[str, str], **extra: Any) -> Document:
    return {"name": name, **extra, "env": dict(env), "run": run}


# -- build ---------------------------------------------------------------------------------------------------------


def services_with_database(plan: PlatformPlan) -> frozenset[str]:
    """The services whose migration image CI builds: those with a database in some cluster environment."""
    return frozenset(service.name for env in plan.on("kubernetes") for service in env.migrated_services)


def build_steps(plan: PlatformPlan, pin: Literal["sha", "tag"], images: str, build_args: str, dockerfile: str,
                push: str) -> list[Document]:
    """For a matrix entry with `migrations: true`: the tags (the app image's, with the suffix) and the build of the
    `migrate` stage, sharing the app build's cache (the stages above it are the same), pushed when the app's is."""
    suffix = f",suffix={MIGRATION_TAG_SUFFIX}"
    tags = f"type=sha,format=long{suffix}\n" + ("" if plan.registry.ecr else f"type=ref,event=branch{suffix}\n")
    only = {"if": "matrix.migrations"}
    return [
        {"name": "Migration image tags", "id": "migration-meta", **only, "uses": uses("metadata", pin),
         "with": {"images": images, "tags": tags}},
        {"name": "Build the migration image, and push from a branch", **only, "uses": uses("build-push", pin), "with": {
            "context": ".",
            "file": dockerfile,
            "target": MIGRATE_STAGE,
            "build-args": build_args,
            "push": push,
            "tags": "${{ steps.migration-meta.outputs.tags }}",
            "labels": "${{ steps.migration-meta.outputs.labels }}",
            "cache-from": "type=gha,scope=${{ matrix.service }}",
        }},
    ]


# -- deploy --------------------------------------------------------------------------------------------------------


# A scratch copy of the migrations folder with the release's images; the previous release's Jobs go (a Job's pod
# template cannot change), then this release's Jobs and their ServiceAccounts are applied: never a rollback Job.
RUN_MIGRATIONS = f"""\
scratch="$RUNNER_TEMP/migrations"
rm -rf "$scratch"
cp -R "$FOLDER" "$scratch"
cd "$scratch"
while read -r name image; do
  kustomize edit set image "$name=$image:sha-$GITHUB_SHA{MIGRATION_TAG_SUFFIX}"
done <<< "$IMAGES"
kustomize build . > "$RUNNER_TEMP/migrations.yaml"
kubectl delete job --namespace "$NAMESPACE" --selector "$JOBS" --ignore-not-found --wait
kubectl apply --server-side --field-manager bizinfra --force-conflicts --selector "$APPLIED" \\
  --filename "$RUNNER_TEMP/migrations.yaml"
"""

# Complete or Failed, whichever comes first (`kubectl wait` waits for one condition only); a failure shows the pod's
# logs and fails the step, so no later step (the release, a switch) runs.
WAIT_FOR_MIGRATION = """\
deadline=$((SECONDS + WAIT_SECONDS))
while :; do
  finished="$(kubectl get job "$JOB" --namespace "$NAMESPACE" \\
    --output 'jsonpath={.status.conditions[?(@.status=="True")].type}')"
  case " $finished " in
    *" Complete "*) echo "$JOB completed"; exit 0 ;;
    *" Failed "*) break ;;
  esac
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "::error::$JOB did not finish within ${WAIT_SECONDS}s"
    break
  fi
  sleep "$POLL_SECONDS"
done
kubectl logs "job/$JOB" --namespace "$NAMESPACE" --all-containers --tail 200 || true
echo "::error::$JOB failed: nothing of the release was applied after it, and traffic stays where it was"
exit 1
"""


def migration_selector(env: EnvironmentPlan) -> str:
    return f"app.kubernetes.io/component={MIGRATION_COMPONENT},{PART_OF_LABEL}={env.platform}"


def deploy_steps(env: EnvironmentPlan, folder: str, images: Mapping[str, str]) -> list[Document]:
    """The release's migrations, before anything of the release is applied: `folder` is the environment's manifests
    folder, `images` each service's image without its tag (as the release sets it)."""
    services = env.migrated_services
    if not services:
        return []
    lines = "".join(f"{migration_name(s.name)} {images[s.name]}\n" for s in services)
    selector = migration_selector(env)
    run = step("Run the release's database migrations", RUN_MIGRATIONS, {
        "FOLDER": f"{folder}/{MIGRATIONS_FOLDER}", "IMAGES": lines,
        "JOBS": f"{selector},{MIGRATION_ACTION_LABEL}=migrate",
        "APPLIED": f"{selector},{MIGRATION_ACTION_LABEL}!=rollback"})
    return [run, *(wait_step(f"Wait for the migration of {s.name}", migration_job(s.name, "migrate"),
                             **{"timeout-minutes": minutes_for(WAIT_SECONDS + POLL_SECONDS)}) for s in services)]


def wait_step(name: str, job_name: str, **extra: Any) -> Document:
    return step(name, WAIT_FOR_MIGRATION, {"JOB": job_name, "WAIT_SECONDS": str(WAIT_SECONDS),
                                           "POLL_SECONDS": str(POLL_SECONDS)}, **extra)


# -- database-migration.yml ----------------------------------------------------------------------------------------


# The live release's image, read from the cluster (in blue-green, the live slot's Deployment: `slot_lookup` set
# live_deployment), gives the migration image's tag: a rollback undoes what that release's migrations did.
RUN_BY_HAND = f"""\
case "$ACTION" in
  migrate) job="$MIGRATE_JOB"; other=rollback ;;
  rollback) job="$ROLLBACK_JOB"; other=migrate ;;
  *) echo "::error::unknown action '$ACTION'"; exit 1 ;;
esac
running="$(kubectl get deployment "$live_deployment" --namespace "$NAMESPACE" \\
  --output 'jsonpath={{.spec.template.spec.containers[0].image}}')"
case "$running" in
  *:sha-*) ;;
  *) echo "::error::$live_deployment runs '$running', not a release: deploy one first"; exit 1 ;;
esac
scratch="$RUNNER_TEMP/migrations"
rm -rf "$scratch"
cp -R "$FOLDER" "$scratch"
cd "$scratch"
kustomize edit set image "$IMAGE_NAME=$running{MIGRATION_TAG_SUFFIX}"
kustomize build . > "$RUNNER_TEMP/migrations.yaml"
kubectl delete job "$job" --namespace "$NAMESPACE" --ignore-not-found --wait
kubectl apply --server-side --field-manager bizinfra --force-conflicts \\
  --selector "$PODS,{MIGRATION_ACTION_LABEL}!=$other" --filename "$RUNNER_TEMP/migrations.yaml"
echo "JOB=$job" >> "$GITHUB_ENV"
"""


def by_hand_steps(env: EnvironmentPlan, folder: str, service: ServicePlan, live_lookup: str,
                  lookup_env: Mapping[str, str]) -> list[Document]:
    """The chosen action's Job of one service, from the live release's migration image, then its outcome.
    `live_lookup` is shell that sets `live_deployment` from `lookup_env` (workflows.slot_lookup in blue-green)."""
    only = {"if": f"inputs.service == '{service.name}'"}
    run = step(f"Run the {service.name} migration Job", live_lookup + RUN_BY_HAND, {
        **lookup_env, "ACTION": "${{ inputs.action }}", "FOLDER": f"{folder}/{MIGRATIONS_FOLDER}",
        "IMAGE_NAME": migration_name(service.name),
        "PODS": f"{SERVICE_NAME_LABEL}={migration_name(service.name)}",
        "MIGRATE_JOB": migration_job(service.name, "migrate"),
        "ROLLBACK_JOB": migration_job(service.name, "rollback")}, **only)
    wait = {"name": f"Wait for the {service.name} migration Job", **only,
            "env": {"WAIT_SECONDS": str(WAIT_SECONDS), "POLL_SECONDS": str(POLL_SECONDS)}, "run": WAIT_FOR_MIGRATION}
    return [run, wait]
