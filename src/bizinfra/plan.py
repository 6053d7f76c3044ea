"""Resolve a platform, per environment, into the facts every target reads.

A fact two targets share (a port, a label, a host, a secret's name) is computed here,
once. Targets never derive such a fact themselves: that is what keeps the Deployment,
the NetworkPolicy, the compose file and the security group agreeing by construction.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from bizinfra.spec.models import Delivery, Platform, Scale, Sizes
from bizinfra.spec.quantities import memory_bytes, millicores, seconds

MANAGED_BY = "bizinfra"
SERVICE_NAME_LABEL = "app.kubernetes.io/name"  # the pod label whose value is its service's name
SLOT_LABEL = "bizinfra.dev/slot"  # blue or green, on pods of a blue-green service
SLOTS = ("blue", "green")
LIVE_SLOT = "blue"  # the slot a fresh install sends traffic to
INGRESS_CLASS = "alb"  # the AWS Load Balancer Controller's class
# `bizinfra generate`'s default output folder, taken to sit at the application repository's root: CI and compose
# read the generated Dockerfile, and the infrastructure workflow the generated workflows, from there.
OUTPUT_FOLDER = "generated"
DOCKERFILE = "docker/Dockerfile"  # below the platform's folder: the one Dockerfile every service builds from


def aws_name(*parts: str, limit: int = 63) -> str:
    """`a-b-c`, cut to `limit` with a stable hash suffix when longer, so two long names never collide."""
    name = "-".join(parts)
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: limit - 7].rstrip('-')}-{digest}"


@dataclass(frozen=True)
class WorkloadIdentity:
    """A cluster add-on that calls AWS APIs, and the IAM role EKS Pod Identity gives its ServiceAccount."""

    name: str
    namespace: str
    service_account: str
    role_name: str


@dataclass(frozen=True)
class DatabaseBootstrap:
    """The Job that creates a PostgreSQL store's application role and databases, which Terraform cannot reach."""

    store: str
    name: str  # `<store>-bootstrap`: its Job, ServiceAccount, ConfigMap, ExternalSecret and Secret
    labels: Mapping[str, str]  # every object of the bootstrap carries these
    selector: Mapping[str, str]  # what its pods carry and its NetworkPolicy selects
    identity: WorkloadIdentity  # reads the RDS-managed master secret through EKS Pod Identity


@dataclass(frozen=True)
class SecretRef:
    """An environment variable whose value lives in AWS Secrets Manager (or `.env` locally)."""

    variable: str  # JWT_SECRET, as the process sees it
    key: str  # the Secrets Manager secret's name
    property: str | None  # a field of that secret's JSON value, when it holds several


@dataclass(frozen=True)
class DatastorePlan:
    name: str
    engine: str  # postgres | redis
    version: str
    port: int
    host: str  # the name services connect to in this environment
    # Clients must use TLS: in the cloud RDS forces it (rds.force_ssl) and ElastiCache has transit encryption on;
    # the compose containers speak plain TCP. The certificate names the AWS endpoint, the target of `host`'s CNAME.
    tls: bool
    env_prefix: str
    users: tuple[str, ...]  # services that use it, sorted
    databases: tuple[str, ...]  # PostgreSQL databases, one per user service
    credentials: str  # the Secrets Manager secret holding its credentials
    identifier: str  # its AWS identifier (RDS instance, ElastiCache replication group)


@dataclass(frozen=True)
class ServicePlan:
    name: str
    port: int
    image: str  # repository, no tag: the tag is set at deploy time
    replicas: Scale
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    health_path: str
    metrics_path: str
    public_host: str | None
    calls: tuple[str, ...]
    callers: tuple[str, ...]
    uses: tuple[str, ...]
    labels: Mapping[str, str]  # every object of this service carries these
    selector: Mapping[str, str]  # the stable subset that selects its pods
    config_map: str  # its own ConfigMap
    config: Mapping[str, str]  # its own plain variables
    secret_name: str  # the Kubernetes Secret its ExternalSecret fills
    secrets: tuple[SecretRef, ...]
    service_account: str
    database: str | None  # its PostgreSQL database, when it uses PostgreSQL
    deployments: tuple[str, ...]  # its Deployments: one, or one per slot for blue-green
    scrape_annotations: Mapping[str, str]  # what the pod carries so Prometheus scrapes it
    container: str  # its container's name in every pod template: what `kubectl set image` names
    dockerfile: str  # the platform's one Dockerfile, relative to the repository root (the build context)
    build_args: Mapping[str, str]  # what CI and compose pass that Dockerfile to build this service

    @property
    def url(self) -> str:
        return f"http://{self.name}:{self.port}"

    @property
    def millicores(self) -> tuple[int, int]:
        return millicores(self.cpu_request), millicores(self.cpu_limit)

    @property
    def memory_bytes(self) -> tuple[int, int]:
        return memory_bytes(self.memory_request), memory_bytes(self.memory_limit)


@dataclass(frozen=True)
class NetworkPlan:
    cidr: str
    zones: int
    public_subnets: tuple[str, ...]
    private_subnets: tuple[str, ...]


@dataclass(frozen=True)
class EnvironmentPlan:
    platform: str
    name: str
    source: str  # the spec file, as the user named it
    runs_on: str
    production: bool
    highly_available: bool
    rollout: str
    branch: str | None
    region: str
    partition: str  # the AWS partition of `region`: aws, aws-us-gov or aws-cn, the second field of every ARN
    domain: str
    registry: str
    namespace: str
    cluster_name: str
    private_zone: str
    nodes: Scale
    sizes: Sizes
    network: NetworkPlan
    labels: Mapping[str, str]  # every object of this environment carries these
    config_map: str  # the platform-wide ConfigMap
    config: Mapping[str, str]  # its variables
    services: tuple[ServicePlan, ...]
    datastores: tuple[DatastorePlan, ...]
    availability: float
    latency_p95_seconds: float
    error_rate: float  # a fraction, 0.05 for 5%
    backup_schedule: str
    backup_keep_days: int
    backup_bucket: str  # S3: Velero backups and database dumps
    log_bucket: str  # S3: load balancer and CDN access logs
    identities: tuple[WorkloadIdentity, ...]
    database_bootstraps: tuple[DatabaseBootstrap, ...]  # one per PostgreSQL store
    deploy_role: str  # the IAM role CI assumes by OIDC to deploy here; Terraform creates it
    deploy_subject: str | None  # the OIDC `sub` of this environment's deploy jobs, when the repository is known
    # The security group (by its Name tag) that Terraform creates for the public load balancer (which Terraform
    # also creates, docs/edge.md); the node group admits it on the public services' ports.
    load_balancer_security_group: str
    runbooks: str  # the base that alert runbook links start with
    spot: bool  # the nodes run on EC2 Spot capacity
    rate_limit: int  # requests per client IP per 5 minutes before the web application firewall blocks
    creates_zone: bool  # this stack creates the domain's public Route 53 zone; the others look it up
    creates_github_oidc: bool  # by default this stack creates the account's GitHub OIDC provider (one per account)

    @property
    def qualified_name(self) -> str:
        return f"{self.platform}-{self.name}"

    def service(self, name: str) -> ServicePlan:
        return self._services_by_name[name]

    @cached_property
    def _services_by_name(self) -> dict[str, ServicePlan]:  # targets look services up by name per edge
        return {service.name: service for service in self.services}

    def datastore(self, name: str) -> DatastorePlan:
        return next(store for store in self.datastores if store.name == name)


@dataclass(frozen=True)
class PlatformPlan:
    name: str
    source: str
    environments: tuple[EnvironmentPlan, ...] = field(default=())
    delivery: Delivery = field(default_factory=Delivery)  # CI commands and action pinning

    def on(self, runs_on: str) -> tuple[EnvironmentPlan, ...]:
        return tuple(env for env in self.environments if env.runs_on == runs_on)


def resolve(platform: Platform, source: str) -> PlatformPlan:
    """The plan of every environment of a platform, in name order."""
    return PlatformPlan(
        name=platform.name,
        source=source,
        environments=tuple(resolve_environment(platform, env, source) for env in sorted(platform.environments)),
        delivery=platform.delivery,
    )


def resolve_environment(platform: Platform, env_name: str, source: str) -> EnvironmentPlan:
    environment = platform.environments[env_name]
    kubernetes = environment.runs_on == "kubernetes"
    labels = {
        "app.kubernetes.io/part-of": platform.name,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "bizinfra.dev/environment": env_name,
    }
    private_zone = f"{platform.name}.internal"
    datastores = tuple(_datastore(platform, name, env_name, f"{name}.{private_zone}" if kubernetes else name,
                                  tls=kubernetes) for name in sorted(platform.datastores))
    bucket_stem = aws_name(platform.domain.replace(".", "-"), env_name, limit=55)
    registry = platform.registry or f"ghcr.io/{platform.name}"
    callers = _callers(platform)
    services = tuple(_service(platform, name, env_name, labels, registry, datastores, callers[name])
                     for name in sorted(platform.services))
    return EnvironmentPlan(
        platform=platform.name,
        name=env_name,
        source=source,
        runs_on=environment.runs_on,
        production=platform.is_production(env_name),
        highly_available=environment.highly_available,
        rollout=environment.rollout,
        branch=environment.branch,
        region=platform.region,
        partition=aws_partition(platform.region),
        domain=platform.domain,
        registry=registry,
        namespace=platform.name,
        cluster_name=f"{platform.name}-{env_name}",
        private_zone=private_zone,
        nodes=environment.nodes,
        sizes=environment.sizes,
        network=_network(platform.network.cidr, platform.network.zones),
        labels=labels,
        config_map=f"{platform.name}-config",
        config=_shared_config(platform.name, env_name, environment.env),
        services=services,
        datastores=datastores,
        availability=platform.monitoring.availability,
        latency_p95_seconds=float(seconds(platform.monitoring.latency_p95)),
        error_rate=platform.monitoring.error_rate / 100,
        backup_schedule=platform.backups.schedule,
        backup_keep_days=max(1, int(seconds(platform.backups.keep) // 86400)),
        backup_bucket=f"{bucket_stem}-backups",
        log_bucket=f"{bucket_stem}-logs",
        identities=_identities(platform.name, env_name),
        database_bootstraps=tuple(_bootstrap(platform.name, env_name, labels, store)
                                  for store in datastores if store.engine == "postgres"),
        deploy_role=aws_name(platform.name, env_name, "deploy", limit=64),  # IAM role names allow 64
        deploy_subject=github_subject(platform.delivery.repository, env_name),
        load_balancer_security_group=aws_name(platform.name, env_name, "load-balancer", limit=255),
        runbooks=platform.monitoring.runbooks.rstrip("/"),
        spot=(not platform.is_production(env_name)) if environment.spot is None else environment.spot,
        rate_limit=platform.edge.rate_limit,
        creates_zone=platform.edge.zone == "create" and env_name == _owner_stack(platform),
        creates_github_oidc=env_name == _owner_stack(platform),
    )


def _service(platform: Platform, name: str, env_name: str, env_labels: Mapping[str, str], registry: str,
             datastores: tuple[DatastorePlan, ...], callers: tuple[str, ...]) -> ServicePlan:
    spec = platform.services[name]
    override = platform.environments[env_name].services.get(name)
    resources = (override and override.resources) or spec.resources
    cpu_request, cpu_limit = resources.cpu.split("..")
    memory_request, memory_limit = resources.memory.split("..")
    selector = {SERVICE_NAME_LABEL: name, "app.kubernetes.io/part-of": platform.name}
    used = [store for store in datastores if store.name in spec.uses]
    database = (spec.database or name.replace("-", "_")) if any(s.engine == "postgres" for s in used) else None
    return ServicePlan(
        name=name,
        port=spec.port,
        image=spec.image or f"{registry}/{name}",
        replicas=(override and override.replicas) or spec.replicas,
        cpu_request=cpu_request,
        cpu_limit=cpu_limit,
        memory_request=memory_request,
        memory_limit=memory_limit,
        health_path=spec.health,
        metrics_path=spec.metrics,
        public_host=_public_host(platform, name, env_name),
        calls=tuple(sorted(spec.calls)),
        callers=callers,
        uses=tuple(sorted(spec.uses)),
        labels={**selector, **env_labels, "app.kubernetes.io/component": "public" if spec.public else "internal"},
        selector=selector,
        config_map=f"{name}-config",
        config=_service_config(spec.port, {**spec.env, **(override.env if override else {})}, used, database,
                               {callee: platform.services[callee].port for callee in sorted(spec.calls)}),
        secret_name=f"{name}-secrets",
        secrets=_secrets(platform.name, env_name, spec.secrets, used),
        service_account=name,
        database=database,
        deployments=_deployments(name, platform.environments[env_name].rollout),
        scrape_annotations={
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(spec.port),
            "prometheus.io/path": spec.metrics,
        },
        container=name,
        dockerfile=f"{OUTPUT_FOLDER}/{platform.name}/{DOCKERFILE}",
        # SERVICE is the Nx project and its apps/ folder (the seed's monorepo layout).
        build_args={"SERVICE": name, "PORT": str(spec.port), "HEALTH_PATH": spec.health},
    )


def _callers(platform: Platform) -> dict[str, tuple[str, ...]]:
    """Who calls each service, computed once: asking every service about every other is quadratic."""
    callers: dict[str, list[str]] = {name: [] for name in platform.services}
    for caller, service in platform.services.items():
        for callee in service.calls:
            callers[callee].append(caller)
    return {name: tuple(sorted(names)) for name, names in callers.items()}


def _datastore(platform: Platform, name: str, env_name: str, host: str, *, tls: bool) -> DatastorePlan:
    spec = platform.datastores[name]
    users = tuple(sorted(n for n, s in platform.services.items() if name in s.uses))
    databases = tuple(sorted({platform.services[u].database or u.replace("-", "_") for u in users})) \
        if spec.engine == "postgres" else ()
    return DatastorePlan(
        name=name,
        engine=spec.engine,
        version=spec.version,
        port=platform.datastore_port(name),
        host=host,
        tls=tls,
        env_prefix=platform.env_prefix(name),
        users=users,
        databases=databases,
        credentials=f"{platform.name}/{env_name}/{name}",
        identifier=aws_name(platform.name, env_name, name, limit=40),  # ElastiCache ids allow 40
    )


def _public_host(platform: Platform, name: str, env_name: str) -> str | None:
    """The spec's host in production; elsewhere `<first label>.<env>.<rest>` unless overridden."""
    public = platform.services[name].public
    override = platform.environments[env_name].services.get(name)
    if public is None:
        return None
    if override and override.public:
        return override.public.host
    if platform.is_production(env_name):
        return public.host
    first, _, rest = public.host.partition(".")
    return f"{first}.{env_name}.{rest}"


def _service_config(port: int, env: Mapping[str, str], used: list[DatastorePlan], database: str | None,
                    callees: Mapping[str, int]) -> dict[str, str]:
    """Its own variables: its port, where its callees and data stores are, then the spec's env, which wins."""
    config = {"PORT": str(port)}
    for callee, callee_port in callees.items():
        config[service_url_variable(callee)] = f"http://{callee}:{callee_port}"
    for store in used:
        config[f"{store.env_prefix}_HOST"] = store.host
        config[f"{store.env_prefix}_PORT"] = str(store.port)
        config[f"{store.env_prefix}_TLS"] = "true" if store.tls else "false"
        if store.engine == "postgres" and database:
            config[f"{store.env_prefix}_NAME"] = database
    config.update(env)
    return dict(sorted(config.items()))


def _secrets(platform: str, env_name: str, declared: tuple[str, ...], used: list[DatastorePlan]) -> tuple[SecretRef, ...]:
    refs = [SecretRef(name, f"{platform}/{env_name}/{name.lower().replace('_', '-')}", None) for name in declared]
    for store in used:
        if store.engine == "postgres":
            refs.append(SecretRef(f"{store.env_prefix}_USERNAME", store.credentials, "username"))
        refs.append(SecretRef(f"{store.env_prefix}_PASSWORD", store.credentials, "password"))
    return tuple(sorted(refs, key=lambda ref: ref.variable))


def _shared_config(platform: str, env_name: str, env: Mapping[str, str]) -> dict[str, str]:
    """What every service of the environment gets. Service URLs are not here but in each caller's own config:
    a service learns only where its callees are, and the config grows with the calls, not with services squared."""
    return dict(sorted({"PLATFORM": platform, "ENVIRONMENT": env_name, **env}.items()))


def service_url_variable(service: str) -> str:
    """`auth-service` -> `AUTH_SERVICE_URL`: the variable that tells a caller where the service is."""
    return service.upper().replace("-", "_") + "_URL"


def _network(cidr: str, zones: int) -> NetworkPlan:
    """Sixteen equal subnets: public ones from the start, private ones from the middle."""
    subnets = [str(net) for net in ipaddress.IPv4Network(cidr).subnets(prefixlen_diff=4)]
    return NetworkPlan(cidr=cidr, zones=zones, public_subnets=tuple(subnets[:zones]),
                       private_subnets=tuple(subnets[8:8 + zones]))


def _deployments(name: str, rollout: str) -> tuple[str, ...]:
    return tuple(f"{name}-{slot}" for slot in SLOTS) if rollout == "blue-green" else (name,)


def _identities(platform: str, env_name: str) -> tuple[WorkloadIdentity, ...]:
    """The add-ons the manifests rely on that need AWS permissions, each with its own role."""
    addons = [
        ("aws-load-balancer-controller", "kube-system"),
        ("external-secrets", "external-secrets"),
        ("velero", "velero"),
        ("cluster-autoscaler", "kube-system"),  # resizes the node group within the environment's nodes: bounds
    ]
    return tuple(WorkloadIdentity(name, namespace, name, aws_name(platform, env_name, name, limit=64))
                 for name, namespace in addons)


def _bootstrap(platform: str, env_name: str, env_labels: Mapping[str, str],
               store: DatastorePlan) -> DatabaseBootstrap:
    name = bootstrap_name(store.name)
    selector = {SERVICE_NAME_LABEL: name, "app.kubernetes.io/part-of": platform}
    return DatabaseBootstrap(
        store=store.name,
        name=name,
        labels={**selector, **env_labels, "app.kubernetes.io/component": BOOTSTRAP_COMPONENT},
        selector=selector,
        identity=WorkloadIdentity(name, platform, name, aws_name(platform, env_name, name, limit=64)),
    )


def bootstrap_name(store: str) -> str:
    """`<store>-bootstrap`: the spec refuses a service of that name, so the two never share objects."""
    return f"{store}-bootstrap"


def aws_partition(region: str) -> str:
    """The partition a region belongs to (the AWS General Reference, "Amazon Resource Names"): GovCloud and China
    have their own, so an ARN written with `arn:aws:` names nothing there."""
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws-cn" if region.startswith("cn-") else "aws"


def github_subject(repository: str | None, env_name: str) -> str | None:
    """The `sub` claim of GitHub's OIDC token for a job that declares `environment: <env_name>`."""
    return f"repo:{repository}:environment:{env_name}" if repository else None


# -- facts the Kubernetes manifests share with Terraform, monitoring and the images ---------------

MONITORING_NAMESPACE = "monitoring"  # where Prometheus runs; the only namespace allowed to scrape the services
APP_USER_ID = 10001  # the non-root uid/gid the service containers run as; >= 10000 stays clear of host users
# Where the public load balancer writes its access logs in `EnvironmentPlan.log_bucket`: its `access_logs.prefix`,
# and the log bucket's policy lets Elastic Load Balancing write under it only.
LOAD_BALANCER_LOG_PREFIX = "alb"
# PostgreSQL roles: RDS keeps the master user's password in a secret it manages; the services log in as the
# application role, whose password Terraform puts in `DatastorePlan.credentials` and the bootstrap Job sets.
DATABASE_MASTER_USER = "postgres"  # as in the seed
DATABASE_APP_USER = "app"
BOOTSTRAP_COMPONENT = "database-bootstrap"  # the `app.kubernetes.io/component` of a bootstrap's objects
# Where EKS Pod Identity hands out credentials: the agent on every node (host network) answers on this
# link-local address, plain HTTP on port 80 (EKS user guide, "EKS Pod Identity agent").
POD_IDENTITY_AGENT = ("169.254.170.23/32", 80)


def load_balancer_name(env: EnvironmentPlan) -> str:
    """The public load balancer's name, which Terraform gives it (AWS allows 32)."""
    return aws_name(env.platform, env.name, limit=32)


def _owner_stack(platform: Platform) -> str | None:
    """The one environment whose stack creates what exists once per domain or account (the public zone, GitHub's
    OIDC provider): production, else the first on Kubernetes."""
    kubernetes = sorted(name for name, env in platform.environments.items() if env.runs_on == "kubernetes")
    return next((name for name in kubernetes if platform.is_production(name)), kubernetes[0] if kubernetes else None)


def target_group_name(env: EnvironmentPlan, service: ServicePlan) -> str:
    """The load balancer target group of a public service: Terraform creates it, the service's TargetGroupBinding
    names it, so the two agree without an ARN passing between them (AWS allows 32 characters)."""
    return aws_name(env.platform, env.name, service.name, limit=32)


# The identity the Cluster Autoscaler runs as: it resizes the node group between `EnvironmentPlan.nodes` bounds.
CLUSTER_AUTOSCALER = "cluster-autoscaler"
