"""Database migrations as Jobs: per service with a PostgreSQL database, `<service>-migrate` runs `delivery.migrate`
and `<service>-rollback` runs `delivery.rollback`, both in the service's migration image (the Dockerfile's `migrate`
stage, tagged `<release tag>-migrate`).

They live in their own kustomization, `migrations/`, outside the folder's: the deploy job applies the migrate Jobs
with the release's tag after what the workloads need and before any traffic moves, and the migration workflow
applies one of them by hand (docs/github.md). The deploy's passes over the folder never apply them, so a Job never
starts with the placeholder tag nor runs twice. Their pods read the service's own ConfigMaps and Secret (the same
`envFrom` as its containers) and reach only its databases, through `<service>-migration`, a NetworkPolicy of the
folder's, applied with the other policies before any Job exists.
"""

from __future__ import annotations

from bizinfra.artifacts import Artifact, yaml_file
from bizinfra.naming import (
    MIGRATION_ACTION_LABEL,
    MIGRATION_ACTIONS,
    MIGRATION_COMPONENT,
    MIGRATION_DEADLINE_SECONDS,
    MIGRATIONS_FOLDER,
    PART_OF_LABEL,
    SERVICE_NAME_LABEL,
    migration_job,
    migration_name,
)
from bizinfra.plan import DatastorePlan, EnvironmentPlan, ServicePlan
from bizinfra.spec.models import Delivery
from bizinfra.targets.kubernetes.common import PLACEHOLDER_TAG, Manifest, hardened_container, hardened_pod, metadata
from bizinfra.targets.kubernetes.network import policy, private_subnets, tcp
from bizinfra.targets.kubernetes.workloads import environment_sources

JOBS_FILE = "jobs.yaml"
# A failed migration is not retried blindly: Prisma records it and refuses to go on until someone looks (P3009).
BACKOFF_LIMIT = 0
TTL_SECONDS = 86400  # a finished Job and its pod's logs are kept a day (the next deploy replaces it sooner)
RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}


def migration_files(env: EnvironmentPlan, delivery: Delivery) -> list[Artifact]:
    services = env.migrated_services
    if not services:
        return []
    folder = f"kubernetes/{env.name}/{MIGRATIONS_FOLDER}"
    documents = [document for service in services for document in service_documents(env, service, delivery)]
    return [yaml_file(f"{folder}/{JOBS_FILE}", *documents, environment=env.name),
            yaml_file(f"{folder}/kustomization.yaml", kustomization(env, services), environment=env.name)]


def service_documents(env: EnvironmentPlan, service: ServicePlan, delivery: Delivery) -> list[Manifest]:
    commands = {"migrate": delivery.migrate, "rollback": delivery.rollback}
    return [service_account(env, service),
            *(job(env, service, action, commands[action]) for action in MIGRATION_ACTIONS)]


def selector(env: EnvironmentPlan, service: ServicePlan) -> dict[str, str]:
    """What its migration pods carry and are selected by: never the service's own selector, so its Service never
    sends them requests and its policies never apply to them."""
    return {SERVICE_NAME_LABEL: migration_name(service.name), PART_OF_LABEL: env.platform}


def labels(env: EnvironmentPlan, service: ServicePlan) -> dict[str, str]:
    return {**selector(env, service), **env.labels, "app.kubernetes.io/component": MIGRATION_COMPONENT}


def image(service: ServicePlan) -> str:
    """The name the kustomization's `images:` replaces, with the tag that names no image until a release sets it."""
    return f"{migration_name(service.name)}:{PLACEHOLDER_TAG}"


def service_account(env: EnvironmentPlan, service: ServicePlan) -> Manifest:
    # Its own: a migration needs no AWS role the service's account may have, and never calls the Kubernetes API.
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": metadata(env, migration_name(service.name), labels(env, service)),
            "automountServiceAccountToken": False}


def job(env: EnvironmentPlan, service: ServicePlan, action: str, command: str) -> Manifest:
    pod_labels = {**labels(env, service), MIGRATION_ACTION_LABEL: action}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(env, migration_job(service.name, action), pod_labels),
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "activeDeadlineSeconds": MIGRATION_DEADLINE_SECONDS,
            "ttlSecondsAfterFinished": TTL_SECONDS,
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "serviceAccountName": migration_name(service.name),
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "restartPolicy": "Never",
                    "securityContext": hardened_pod(),
                    **({"imagePullSecrets": [{"name": env.pull_secret.name}]} if env.pull_secret else {}),
                    "containers": [container(env, service, action, command)],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
                },
            },
        },
    }


def container(env: EnvironmentPlan, service: ServicePlan, action: str, command: str) -> Manifest:
    """The spec's command, as written, in a shell; the service's variables (DATABASE_URL and its parts) as its own
    containers get them; npm's cache in the writable /tmp."""
    return {
        "name": action,
        "image": image(service),
        "imagePullPolicy": "Always",
        "command": ["sh", "-c", command],
        "envFrom": environment_sources(env, service),
        "env": [{"name": "HOME", "value": "/tmp"}],
        "resources": RESOURCES,
        "securityContext": hardened_container(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def database_stores(env: EnvironmentPlan, service: ServicePlan) -> list[DatastorePlan]:
    """Every PostgreSQL store the service uses: it has a database on each, and its migrations may touch any."""
    return [store for store in map(env.datastore, service.uses) if store.engine == "postgres"]


def migration_policies(env: EnvironmentPlan) -> list[Manifest]:
    """`<service>-migration`: nothing in; out only to its databases' ports (one per PostgreSQL store it uses) in the
    private subnets (DNS comes from `allow-dns`, like every pod's)."""
    return [policy(env, migration_name(s.name), labels(env, s), selector(env, s), ingress=[],
                   egress=[{"to": private_subnets(env),
                            "ports": [port for p in sorted({d.port for d in database_stores(env, s)}) for port in tcp(p)]}])
            for s in env.migrated_services]


def kustomization(env: EnvironmentPlan, services: tuple[ServicePlan, ...]) -> Manifest:
    """As the folder's: a release sets each service's migration image (`kustomize edit set image`); with ECR the
    registry is the account's, which only the deploy job knows."""
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [JOBS_FILE],
        "images": [{"name": migration_name(s.name), **({} if env.registry.ecr else {"newName": s.image}),
                    "newTag": PLACEHOLDER_TAG} for s in services],
    }
