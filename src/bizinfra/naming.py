"""The naming conventions: how a name the user wrote becomes the name of an object bizinfra makes.

Each convention is one function or constant here; resolution (resolve.py) and the targets call it, never
spelling the pattern out again.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping

MANAGED_BY = "bizinfra"
ANYWHERE = "0.0.0.0/0"  # every IPv4 address
SERVICE_NAME_LABEL = "app.kubernetes.io/name"  # the pod label whose value is its service's name
PART_OF_LABEL = "app.kubernetes.io/part-of"  # the platform every object belongs to
SLOT_LABEL = "bizinfra.dev/slot"  # blue or green, on pods of a blue-green service
SLOTS = ("blue", "green")
LIVE_SLOT = "blue"  # the slot a fresh install sends traffic to
# `bizinfra generate`'s default output folder, taken to sit at the application repository's root: CI and compose
# read the generated Dockerfile, and the infrastructure workflow the generated workflows, from there.
OUTPUT_FOLDER = "generated"
# In the application's repository: the pip requirement CI installs bizinfra by, unless the spec names one
# (delivery.bizinfra). `bizinfra init` writes it; `bizinfra doctor` checks it.
BIZINFRA_REQUIREMENTS = "requirements-bizinfra.txt"
DOCKERFILE = "docker/Dockerfile"  # below the platform's folder: the one Dockerfile every service builds from
RUNBOOKS = "docs/runbooks"  # below the platform's folder: one generated page per alert, which its runbook_url names
# Alertmanager's receiver with nowhere to send: alerts nobody routes go there and are dropped. A spec's receiver
# cannot take its name, which the generated configuration already uses.
NULL_RECEIVER = "null"

# -- facts the Kubernetes manifests share with Terraform, monitoring and the images ---------------

APP_USER_ID = 10001  # the non-root uid/gid the service containers run as; >= 10000 stays clear of host users
# Where the public load balancer writes its access logs in `EdgePlan.log_bucket`: its `access_logs.prefix`,
# and the log bucket's policy lets Elastic Load Balancing write under it only.
LOAD_BALANCER_LOG_PREFIX = "alb"
# PostgreSQL roles: RDS keeps the master user's password in a secret it manages; each database has its own login role
# of the same name, owning it alone, whose password Terraform puts in the role's own secret and the bootstrap Job sets.
DATABASE_MASTER_USER = "postgres"  # as in the seed
# The PostgreSQL exporter's own role: a member of `pg_monitor` (read statistics, nothing else), owning nothing; its
# password is in its own Secrets Manager secret, which the bootstrap Job sets.
DATABASE_EXPORTER_USER = "exporter"
# What a database (and so its role) may not be called: the master and exporter roles, the databases every server
# has, RDS's own; `pg_` and `rds` start the names PostgreSQL and RDS keep for their own roles.
RESERVED_DATABASE_NAMES = (DATABASE_MASTER_USER, DATABASE_EXPORTER_USER, "endpoint", "rdsadmin", "template0",
                           "template1")  # `endpoint`: the secret `<store>/endpoint` beside the roles'
RESERVED_DATABASE_PREFIXES = ("pg_", "rds")
# The connection string a service gets, beside the parts, when it uses exactly one data store of the engine: the
# variables Prisma, TypeORM and ioredis read as they are.
CONNECTION_URL_VARIABLES = {"postgres": "DATABASE_URL", "redis": "REDIS_URL"}
EXPORTER_COMPONENT = "exporter"  # the `app.kubernetes.io/component` of a data store exporter's objects
# Where each engine's Prometheus exporter serves its metrics: the exporters' own default ports.
EXPORTER_PORTS = {"postgres": 9187, "redis": 9121}
BOOTSTRAP_COMPONENT = "database-bootstrap"  # the `app.kubernetes.io/component` of a bootstrap's objects
MIGRATION_COMPONENT = "migration"  # the `app.kubernetes.io/component` of a service's migration Jobs and policy
# Which of a service's two migration Jobs an object is: `migrate` (delivery.migrate, run by every deploy) or
# `rollback` (delivery.rollback, run by hand from the migration workflow).
MIGRATION_ACTION_LABEL = "bizinfra.dev/migration"
MIGRATION_ACTIONS = ("migrate", "rollback")
MIGRATE_STAGE = "migrate"  # the generated Dockerfile's stage that is a service's migration image (`--target`)
MIGRATION_TAG_SUFFIX = "-migrate"  # a release's migration image: the service's repository, its tag + this
MIGRATIONS_FOLDER = "migrations"  # below an environment's manifests folder: the Jobs' kustomization of their own
# A migration Job that runs longer fails, and the deploy with it, before traffic moves; the workflows wait a little
# longer than this for it.
MIGRATION_DEADLINE_SECONDS = 600
# Where EKS Pod Identity hands out credentials: the agent on every node (host network) answers on this
# link-local address, plain HTTP on port 80 (EKS user guide, "EKS Pod Identity agent").
POD_IDENTITY_AGENT = ("169.254.170.23/32", 80)
# The cluster add-ons that call AWS APIs, by the name of their EKS Pod Identity (and IAM role suffix); the Cluster
# Autoscaler resizes the node group between `EnvironmentPlan.nodes` bounds.
LOAD_BALANCER_CONTROLLER = "aws-load-balancer-controller"
EXTERNAL_SECRETS = "external-secrets"
VELERO = "velero"
# The Velero BackupStorageLocation the Schedules write to: the one the Velero chart makes on the backup bucket, named
# as the chart names its first location when the values give no name.
VELERO_STORAGE_LOCATION = "default"
CLUSTER_AUTOSCALER = "cluster-autoscaler"
# The cluster's default StorageClass, which the EBS CSI driver add-on creates: gp3 volumes encrypted with the
# environment's KMS key. A PersistentVolumeClaim that names no class (Prometheus's, Alertmanager's) gets one of these.
VOLUME_STORAGE_CLASS = "gp3-encrypted"
# CloudWatch Logs accepts only these retention values, in days (PutRetentionPolicy API reference).
LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653]
# The log groups the CloudWatch Observability add-on's Fluent Bit writes to, by what they hold: the containers'
# output, the kubelet and container runtime's journal, the nodes' system logs (its fluent-bit config).
CONTAINER_LOG_KINDS = ("application", "dataplane", "host")
# The ServiceAccount the Velero chart runs its server as by default (`serviceAccount.server.name` unset:
# `<release>-server`, release `velero`): the Pod Identity association names it, and the release sets it too.
VELERO_SERVICE_ACCOUNT = "velero-server"
# The SLO period: the error budget's window, which the monitoring target's rules read back over and Prometheus
# (the add-ons' stack) keeps data for.
SLO_PERIOD = "30d"
# Images: `registry: ecr` in the spec means Amazon ECR in the stack's account; any other registry is pulled with a
# read-only token a person stores once in the Secrets Manager secret `<platform>/<env>/registry`, which External
# Secrets turns into the dockerconfigjson Secret PULL_SECRET that every service's pods name.
ECR = "ecr"
REGISTRY_SECRET = "registry"
PULL_SECRET = "registry-credentials"
# ECR keeps this many images per repository (its lifecycle policy): with one image a release, enough to roll back
# weeks of releases, few enough that the storage stays cents.
ECR_KEEP_IMAGES = 100
# How long a deploy waits for a rollout, or for a database bootstrap Job, before it fails and rolls back.
ROLLOUT_TIMEOUT_SECONDS = 600
# The longest session the deploy role allows (IAM's maximum, 12 hours): a deploy job's session lasts as long as the job
# may (its steps' limits summed), which is longer than IAM's default hour; the job asks for no more than it needs.
DEPLOY_SESSION_LIMIT_SECONDS = 12 * 3600
# How long a load balancer target drains after its pod leaves the target group, within the pods' 30 s grace period
# after their 10 s preStop sleep; a blue-green deploy waits this long before it scales the old slot down.
DEREGISTRATION_DELAY_SECONDS = 30
# On a namespace, makes the AWS Load Balancer Controller give every pod of a TargetGroupBinding's Service a readiness
# gate: the pod is Ready only once its target is healthy (its docs/deploy/pod_readiness_gate.md).
READINESS_GATE_LABEL = "elbv2.k8s.aws/pod-readiness-gate-inject"


# What a service that calls AWS is given besides its credentials (EKS Pod Identity injects those in the cloud): the
# region everywhere, and in compose the S3 stand-in's endpoint (AWS SDKs read AWS_ENDPOINT_URL_S3) and a key pair
# the stand-in accepts, from .env. A spec may not set them itself.
AWS_VARIABLES = ("AWS_REGION", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
# Address ranges that are never "the internet": RFC 1918, the shared address space (RFC 6598; EKS custom networking
# puts pods there) and link-local (instance metadata, the Pod Identity agent). A service's declared egress reaches
# anywhere but these, so a rule for Stripe cannot reach a database or another cluster's pods.
PRIVATE_RANGES = ("10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16")


def kubectl_duration(seconds: int) -> str:
    """`600` -> `10m`, as `kubectl rollout status --timeout` and `kubectl wait --timeout` read it."""
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def aws_name(*parts: str, limit: int = 63) -> str:
    """`a-b-c`, cut to `limit` with a stable hash suffix when longer, so two long names never collide."""
    name = "-".join(parts)
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: limit - 7].rstrip('-')}-{digest}"


def aws_partition(region: str) -> str:
    """The partition a region belongs to (the AWS General Reference, "Amazon Resource Names"): GovCloud and China
    have their own, so an ARN written with `arn:aws:` names nothing there."""
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws-cn" if region.startswith("cn-") else "aws"


def arn(service: str, resource: str, *, partition: str, region: str = "", account: str = "") -> str:
    """`arn:<partition>:<service>:<region>:<account>:<resource>`, the one builder every target uses. The partition
    has no default: GovCloud and China have their own, and an ARN in the wrong one names nothing."""
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def ecr_host(account: str, region: str) -> str:
    """The ECR registry of an account in a region (China's regions end in `.amazonaws.com.cn`)."""
    suffix = ".cn" if region.startswith("cn-") else ""
    return f"{account}.dkr.ecr.{region}.amazonaws.com{suffix}"


def service_url_variable(service: str) -> str:
    """`auth-service` -> `AUTH_SERVICE_URL`: the variable that tells a caller where the service is."""
    return service.upper().replace("-", "_") + "_URL"


def secret_key(platform: str, env_name: str, name: str) -> str:
    """The Secrets Manager name of a secret: `<platform>/<env>/<name>`, which the deploy roles' policies and the
    ExternalSecrets both select by that prefix."""
    return f"{platform}/{env_name}/{name}"


def database_role_secret(platform: str, env_name: str, store: str, database: str) -> str:
    """`<platform>/<env>/<store>/<database>`: the secret of a database's own role; the spec refuses a database named
    like the exporter's secret beside it."""
    return secret_key(platform, env_name, f"{store}/{database}")


def store_endpoint_secret(platform: str, env_name: str, store: str) -> str:
    """`<platform>/<env>/<store>/endpoint`: `{"host": ...}`, the endpoint AWS gives the store, kept current by Terraform
    (no generated value in it, so nothing to keep from later plans)."""
    return secret_key(platform, env_name, f"{store}/endpoint")


def tls_servername_variable(env_prefix: str) -> str:
    """`<PREFIX>_TLS_SERVERNAME`: the name a store's certificate holds (its AWS endpoint, not the private alias in
    `<PREFIX>_HOST`), for clients that check it (node-postgres' and ioredis' `tls.servername`)."""
    return f"{env_prefix}_TLS_SERVERNAME"


def connection_url_variables(engines: Mapping[str, str]) -> dict[str, str]:
    """Store name -> its connection string variable, given the engine of each store a service uses: DATABASE_URL or
    REDIS_URL for the one store of its engine (with two, which one a URL meant would be a guess: the parts remain)."""
    counts = Counter(engines.values())
    return {store: CONNECTION_URL_VARIABLES[engine] for store, engine in sorted(engines.items()) if counts[engine] == 1}


def bootstrap_name(store: str) -> str:
    """`<store>-bootstrap`: the spec refuses a service of that name, so the two never share objects."""
    return f"{store}-bootstrap"


def exporter_name(store: str) -> str:
    """`<store>-exporter`: the exporter's objects, and the `service` label of its series. The spec refuses a service
    of that name."""
    return f"{store}-exporter"


def migration_name(service: str) -> str:
    """What a service's migration pods are called (their name label, ServiceAccount and NetworkPolicy):
    `<service>-migration`, at most 63 characters since a service name has at most 53."""
    return f"{service}-migration"


def migration_job(service: str, action: str) -> str:
    """A service's migration Job for one action: `<service>-migrate` or `<service>-rollback`."""
    return f"{service}-{action}"


def slot_deployments(name: str, rollout: str) -> dict[str, str]:
    """Blue-green's slots and the Deployment each one is: `{blue: <name>-blue, green: <name>-green}`; none when
    rolling, where the service is one Deployment of its own name."""
    return {slot: f"{name}-{slot}" for slot in SLOTS} if rollout == "blue-green" else {}


def cluster_autoscaler_tags(cluster: str) -> dict[str, str]:
    """The tags the Cluster Autoscaler discovers a cluster's node groups by (its `--node-group-auto-discovery`
    default on AWS, cloudprovider/aws/README.md), which EKS puts on a managed node group's Auto Scaling group; the
    `owned` one is also what its IAM policy lets it resize."""
    return {"k8s.io/cluster-autoscaler/enabled": "true", f"k8s.io/cluster-autoscaler/{cluster}": "owned"}


def github_subject(repository: str | None, env_name: str) -> str | None:
    """The `sub` claim of GitHub's OIDC token for a job that declares `environment: <env_name>`."""
    return f"repo:{repository}:environment:{env_name}" if repository else None


def log_retention(days: float) -> int:
    """The shortest retention CloudWatch Logs accepts that keeps logs at least `days` (the spec allows at most the
    longest, 3653)."""
    return next(accepted for accepted in LOG_RETENTION_DAYS if accepted >= days)


def control_plane_log_group(cluster: str) -> str:
    """`/aws/eks/<cluster>/cluster`: where EKS writes the control plane's logs (the name it requires)."""
    return f"/aws/eks/{cluster}/cluster"


def container_log_group(cluster: str, kind: str) -> str:
    """`/aws/containerinsights/<cluster>/<kind>`: where Fluent Bit sends one kind of a cluster's logs."""
    return f"/aws/containerinsights/{cluster}/{kind}"


def github_branch_subject(repository: str | None, branch: str | None) -> str | None:
    """The `sub` claim of GitHub's OIDC token for a job run on a branch's ref (a push, a schedule or a dispatch on it)
    that declares no environment."""
    return f"repo:{repository}:ref:refs/heads/{branch}" if repository and branch else None


def github_pull_request_subject(repository: str | None) -> str | None:
    """The `sub` claim of GitHub's OIDC token for a job run by a pull request (and declaring no environment)."""
    return f"repo:{repository}:pull_request" if repository else None


# The platform-wide Terraform stack that makes what every environment's stack needs first (its state bucket, the
# GitHub OIDC provider, the infrastructure roles): `terraform/bootstrap/`, so no environment may take the name.
BOOTSTRAP_STACK = "bootstrap"


def state_key(platform: str, stack: str) -> str:
    """A stack's state object in the platform's state bucket: `<platform>/<environment or bootstrap>/...`, so each
    infrastructure role is given its own prefix."""
    return f"{platform}/{stack}/terraform.tfstate"


def bucket_variable(bucket: str) -> str:
    """`documents` -> `DOCUMENTS_BUCKET`: the variable that tells a service its bucket's name in the environment."""
    return bucket.upper().replace("-", "_") + "_BUCKET"
