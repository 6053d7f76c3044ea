"""What the plan holds: per environment, every fact that two targets share, computed once by resolve.py."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from bizinfra.naming import bucket_variable, connection_url_variables, service_url_variable
from bizinfra.spec.models import Delivery, Scale, Sizes
from bizinfra.spec.quantities import memory_bytes, millicores

# A rolling update's `maxSurge`, as a percentage of the Deployment's replicas (Kubernetes rounds it up): the
# Deployments say it, and the capacity check counts it.
ROLLING_SURGE_PERCENT = 25


@dataclass(frozen=True)
class WorkloadIdentity:
    """A cluster add-on that calls AWS APIs, and the IAM role EKS Pod Identity gives its ServiceAccount."""

    name: str
    namespace: str
    service_account: str
    role_name: str


@dataclass(frozen=True)
class DatabaseBootstrap:
    """The Job that creates a PostgreSQL store's databases and their roles, which Terraform cannot reach."""

    store: str
    name: str  # `<store>-bootstrap`: its Job, ServiceAccount, ConfigMap, ExternalSecret and Secret
    labels: Mapping[str, str]  # every object of the bootstrap carries these
    selector: Mapping[str, str]  # what its pods carry and its NetworkPolicy selects
    identity: WorkloadIdentity  # reads the RDS-managed master secret through EKS Pod Identity


@dataclass(frozen=True)
class ExporterPlan:
    """A data store's Prometheus exporter in the cluster (postgres_exporter, redis_exporter): what the Deployment,
    its NetworkPolicy and PodMonitor, the alerts and the Terraform secret share."""

    store: str
    engine: str  # postgres | redis
    name: str  # `<store>-exporter`: its Deployment, ServiceAccount, Secret and policies, and its series' `service`
    port: int  # where it serves /metrics
    labels: Mapping[str, str]  # every object of the exporter carries these
    selector: Mapping[str, str]  # what its pods carry and its PodMonitor and NetworkPolicy select
    # The Secrets Manager secret it logs in with: its own least-privilege role's (PostgreSQL,
    # `<platform>/<env>/<store>/exporter`, which no declared secret's name can be) or the store's auth token (Redis).
    credentials: str


@dataclass(frozen=True)
class SecretRef:
    """An environment variable whose value lives in AWS Secrets Manager (or `.env` locally)."""

    variable: str  # JWT_SECRET, as the process sees it
    key: str  # the Secrets Manager secret's name
    property: str | None  # a field of that secret's JSON value, when it holds several


@dataclass(frozen=True)
class DatabaseRole:
    """A PostgreSQL database and the login role of the same name that owns it, and only it: the services of that
    database log in as it (one service each, unless the spec gives two the same `database`)."""

    name: str  # the role, named as its database
    database: str
    credentials: str  # Secrets Manager, `<platform>/<env>/<store>/<database>`: `{username, password}` as JSON
    users: tuple[str, ...]  # the services that log in as it, sorted


@dataclass(frozen=True)
class DatastorePlan:
    """One data store in one environment: where services reach it and the AWS names it goes by."""

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
    # The Secrets Manager secret of its one set of credentials: Redis's auth token, or
    # compose's local PostgreSQL owner; PostgreSQL on Kubernetes has a secret per role instead (`roles`).
    credentials: str
    identifier: str  # its AWS identifier (RDS instance, ElastiCache replication group)
    # Copies kept in sync beside the primary: the RDS Multi-AZ standby, the ElastiCache replica. 1 when highly
    # available, else 0; the Redis replication alert expects that many replicas connected.
    replicas: int
    # PostgreSQL on Kubernetes: one role per database, each with its own secret, which the bootstrap Job creates.
    # Empty elsewhere: compose's local server has one owner, in `credentials`, and Redis has one user.
    roles: tuple[DatabaseRole, ...] = ()
    # With TLS, the Secrets Manager secret holding `{"host": <the endpoint AWS gives it>}`, the name its certificate
    # holds, which Terraform keeps current; none in compose.
    endpoint_secret: str | None = None

    def role(self, database: str) -> DatabaseRole:
        return next(role for role in self.roles if role.database == database)


@dataclass(frozen=True)
class BucketPlan:
    """An application bucket (the spec's `storage:`) in one environment."""

    name: str  # as the spec names it
    bucket: str  # its S3 name here: `<domain>-<env>-<name>`, globally unique like every bucket name
    expire_days: int | None  # objects are deleted this long after they are written
    transition_days: int | None  # and moved to `storage_class` this long after
    storage_class: str | None  # S3's name: STANDARD_IA, GLACIER_IR, ...
    keep_versions_days: int  # a replaced or deleted object's previous version is kept this long
    users: tuple[str, ...]  # the services that read and write it, sorted
    replica: str | None  # S3, in the second region (recovery.region): its replica; none without a region

    @property
    def variable(self) -> str:  # what tells its users its name
        return bucket_variable(self.name)


@dataclass(frozen=True, order=True)
class ExternalHost:
    """A host outside the platform a service calls (its `egress:`)."""

    host: str
    port: int


@dataclass(frozen=True)
class ProbePaths:
    """What the cluster asks a service: started yet, ready for traffic (may check its dependencies), still alive
    (must not)."""

    startup: str
    readiness: str
    liveness: str


@dataclass(frozen=True)
class BuildPlan:
    """How one service's image is built from the platform's one Dockerfile: the spec's build settings with the
    delivery's and the Nx layout's defaults filled in."""

    node_version: str  # the Node.js release the image is built from (x.y.z)
    install: str
    command: str  # the build
    output: str  # the folder the build writes, relative to the repository root
    prune: str
    start: str


@dataclass(frozen=True)
class CronPlan:
    """When a cron job runs and how its runs behave (the spec's `schedule` and `job`)."""

    schedule: str  # five-field cron, UTC
    concurrency: str  # Kubernetes' concurrencyPolicy: Forbid, Allow or Replace
    timeout_seconds: int  # a run still going is stopped and fails
    start_within_seconds: int  # a run that cannot start this late is skipped
    keep_succeeded: int
    keep_failed: int
    longest_gap_seconds: int | None  # the most time between two runs (plan/cron.py); None: it never runs


@dataclass(frozen=True)
class ServicePlan:
    """One service in one environment. Its derived names and strings (its ConfigMap's name, the port as text in
    an annotation or a build argument) are properties of the fields they come from, so changing a field here
    changes every file that shows it."""

    name: str
    port: int | None  # where it listens: a web service always, a worker when it serves metrics, a cron job never
    image: str  # repository, no tag: the tag is set at deploy time
    replicas: Scale
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    health_path: str  # the image's own HEALTHCHECK and the post-deploy smoke test
    metrics_path: str
    public_host: str | None
    calls: tuple[str, ...]
    callers: tuple[str, ...]
    uses: tuple[str, ...]
    labels: Mapping[str, str]  # every object of this service carries these
    selector: Mapping[str, str]  # the stable subset that selects its pods
    env: Mapping[str, str]  # the spec's plain variables for it here (the environment's override wins)
    secrets: tuple[SecretRef, ...]
    database: str | None  # its PostgreSQL database, when it uses PostgreSQL
    slots: Mapping[str, str]  # blue-green: each slot's Deployment; empty for a rolling service
    dockerfile: str  # the platform's one Dockerfile, relative to the repository root (the build context)
    probes: ProbePaths  # the paths of its startup, readiness and liveness probes
    build: BuildPlan
    command: tuple[str, ...]  # the spec's command line, run under the image's tini; empty: the image's start
    buckets: tuple[str, ...] = ()  # the application buckets it reads and writes, sorted
    external_hosts: tuple[ExternalHost, ...] = ()  # what it calls outside the platform, sorted
    aws_services: tuple[str, ...] = ()  # the AWS services it calls (s3 when it uses a bucket), sorted
    identity: WorkloadIdentity | None = None  # its EKS Pod Identity role, when it calls AWS
    kind: str = "web"  # web (serves requests on its port) | worker (a process, no Service) | cron (a scheduled job)
    health_command: str | None = None  # a worker's liveness check, run in its container
    cron: CronPlan | None = None  # a cron job's schedule
    # Its release runs its database's migrations (the migrate and rollback Jobs): every service with a database, but a
    # cron job sharing a running service's database leaves them to that service's release.
    migrated: bool = False

    @property
    def takes_requests(self) -> bool:
        """A web service: it has a Service, callers, HTTP probes and the request alerts."""
        return self.kind == "web"

    @property
    def scraped(self) -> bool:
        """Prometheus scrapes its metrics path: every process with a port (a cron job ends before a scrape)."""
        return self.port is not None

    @property
    def egress_ports(self) -> tuple[int, ...]:
        """The ports it reaches outside the private ranges: its hosts' ports, and HTTPS for the AWS APIs."""
        ports = {host.port for host in self.external_hosts} | ({443} if self.aws_services else set())
        return tuple(sorted(ports))

    @property
    def slotted(self) -> bool:
        """Blue-green switches its traffic between two slots: a web service where the rollout is blue-green; workers
        and cron jobs take no traffic to switch, and roll in place."""
        return bool(self.slots)

    @property
    def surge(self) -> int:
        """The pods a release runs beside its minimum at its peak: a whole second slot when it is slotted, else the
        rolling update's surge."""
        minimum = self.replicas.min
        return minimum if self.slotted else math.ceil(minimum * ROLLING_SURGE_PERCENT / 100)

    @property
    def deployments(self) -> tuple[str, ...]:
        """Its Deployments: one of its own name, or one per blue-green slot; a cron job has none (a CronJob)."""
        if self.kind == "cron":
            return ()
        return tuple(self.slots.values()) or (self.name,)

    @property
    def config_map(self) -> str:  # its own ConfigMap
        return f"{self.name}-config"

    @property
    def secret_name(self) -> str:  # the Kubernetes Secret its ExternalSecret fills
        return f"{self.name}-secrets"

    @property
    def service_account(self) -> str:
        return self.name

    @property
    def container(self) -> str:  # its container's name in every pod template: what `kubectl set image` names
        return self.name

    @property
    def scrape_annotations(self) -> dict[str, str]:
        """What the pod carries so Prometheus scrapes it."""
        if self.port is None:
            return {}
        return {"prometheus.io/scrape": "true", "prometheus.io/port": str(self.port),
                "prometheus.io/path": self.metrics_path}

    @property
    def build_args(self) -> dict[str, str]:
        """What CI and compose pass the platform's Dockerfile to build this service: its build settings, and the
        port and path its image's health check asks (empty when nothing listens: the HEALTHCHECK is skipped)."""
        build = self.build
        listens = {"PORT": "", "HEALTH_PATH": ""} if self.port is None else {
            "PORT": str(self.port), "HEALTH_PATH": self.liveness_path}
        return {"NODE_VERSION": build.node_version, "INSTALL": build.install, "BUILD": build.command,
                "OUTPUT": build.output, "PRUNE": build.prune, "START": build.start, **listens}

    @property
    def liveness_path(self) -> str:
        """What a GET checks it is alive at: a web service's health path, a worker's metrics (all its port serves)."""
        return self.health_path if self.takes_requests else self.metrics_path

    @property
    def millicores(self) -> tuple[int, int]:
        return millicores(self.cpu_request), millicores(self.cpu_limit)

    @property
    def memory_bytes(self) -> tuple[int, int]:
        return memory_bytes(self.memory_request), memory_bytes(self.memory_limit)


@dataclass(frozen=True)
class NetworkPlan:
    """The VPC: its address range and the subnets per availability zone."""

    cidr: str
    zones: int
    public_subnets: tuple[str, ...]
    private_subnets: tuple[str, ...]


@dataclass(frozen=True)
class SloPlan:
    """The monitoring goals: what the alerts, their unit tests and the dashboard measure against. Platform-wide."""

    availability: float  # a percentage, 99.9
    latency_p95_seconds: float
    error_rate: float  # a fraction, 0.05 for 5%
    runbooks: str  # the base that alert runbook links start with


@dataclass(frozen=True)
class MonitoringStackPlan:
    """The Prometheus Operator stack that loads the monitoring objects (the spec's `monitoring.stack`). Platform-wide."""

    namespace: str  # where Prometheus and Grafana run: the namespace the NetworkPolicies admit scrapes from
    release: str  # its Helm release name

    # kube-prometheus-stack's defaults (the chart's values.yaml): Prometheus selects PrometheusRules and PodMonitors
    # by `release: <release name>` (`ruleSelectorNilUsesHelmValues`, `podMonitorSelectorNilUsesHelmValues`: true),
    # in any namespace (`ruleNamespaceSelector`, `podMonitorNamespaceSelector`: {}); Grafana's dashboard sidecar
    # loads ConfigMaps labelled `grafana_dashboard: "1"` (`sidecar.dashboards.label`, `labelValue`) in the chart's
    # own namespace (`sidecar.dashboards.searchNamespace` unset).
    @property
    def selector(self) -> dict[str, str]:  # on the PrometheusRule and the PodMonitors
        return {"release": self.release}

    @property
    def dashboard_labels(self) -> dict[str, str]:  # on the dashboard ConfigMap, in `namespace`
        return {"grafana_dashboard": "1"}

    # prometheus-operator gives every Alertmanager it runs this headless Service (port `web`), whatever the release.
    @property
    def alertmanager_service(self) -> str:
        return "alertmanager-operated"

    @property
    def alertmanager_port(self) -> int:
        return 9093


@dataclass(frozen=True)
class ReceiverPlan:
    """Somewhere alerts go, and the Secrets Manager secret holding what lets anyone post there."""

    name: str
    kind: str  # slack | pagerduty | email | webhook
    secret: str  # `<platform>/<env>/alerting/<name>`: key `url` (slack, webhook), `routing_key`, or `password` (email)
    channel: str | None  # slack
    to: str | None  # email
    sender: str | None  # email
    smarthost: str | None  # email, host:port

    @property
    def secret_property(self) -> str:
        """The key of its Secrets Manager secret's JSON value that holds what lets anyone post there."""
        return {"pagerduty": "routing_key", "email": "password"}.get(self.kind, "url")


@dataclass(frozen=True)
class AlertingPlan:
    """Who hears of alerts in one environment (the spec's `monitoring.receivers`, `pages`, `tickets`, `heartbeat`)."""

    receivers: tuple[ReceiverPlan, ...]  # sorted by name
    pages: tuple[str, ...]  # receivers of critical alerts
    tickets: tuple[str, ...]  # receivers of warnings
    heartbeat: str | None  # the webhook receiver of the always-firing Watchdog (a dead man's switch)

    def receiver(self, name: str) -> ReceiverPlan:
        return next(receiver for receiver in self.receivers if receiver.name == name)


@dataclass(frozen=True)
class LogQuery:
    """A saved CloudWatch Logs Insights query: one service's recent output in one environment."""

    service: str
    name: str  # `<platform>/<env>/<service>`: the console shows each environment as a folder
    query: str


@dataclass(frozen=True)
class LogsPlan:
    """Where the cluster's container logs go and how long they stay (the spec's `logs`)."""

    retention_days: int  # a value CloudWatch Logs accepts, at least the spec's `logs.keep`
    groups: Mapping[str, str]  # application, dataplane, host -> the log group Fluent Bit writes to
    queries: tuple[LogQuery, ...]  # one per service, in name order

    @property
    def application(self) -> str:  # the group holding every container's output
        return self.groups["application"]


@dataclass(frozen=True)
class BackupPlan:
    """When backups run, how long they are kept and where they go: Velero, RDS and the database dump script."""

    schedule: str  # cron
    keep_days: int
    bucket: str  # S3: Velero backups and database dumps


@dataclass(frozen=True)
class StandbyPlan:
    """The second region an environment recovers in: where its backups are replicated and its standby stack runs."""

    region: str
    partition: str
    name: str  # `<env>-standby`: what the standby stack's own AWS names and state are called by
    bucket: str  # S3, in `region`: the backup bucket's replica
    replication_role: str  # the IAM role S3 replicates the backup bucket with
    log_bucket: str  # S3, in `region`: the standby network's flow logs
    state_key: str  # the standby stack's state object, in the platform's state bucket
    pilot_light: bool  # its cluster has no nodes until the failover runbook scales it up (the RTO allows it)
    nodes: Scale  # the standby node group: min 0 in a pilot light, the environment's own otherwise


@dataclass(frozen=True)
class RecoveryPlan:
    """The environment's recovery objectives and what they derive: the AWS Backup plan of its databases, and the
    standby in a second region when the spec names one."""

    rpo_seconds: int
    rto_seconds: int
    vault: str  # AWS Backup vault of the database snapshots (the same name in the standby region)
    backup_role: str  # the IAM role AWS Backup runs as
    snapshot_schedule: str  # AWS Backup's cron expression: the spec's schedule, at most hourly
    standby: StandbyPlan | None


@dataclass(frozen=True)
class EdgePlan:
    """What stands in front of the public services: the load balancer, its firewall, logs and public zone."""

    rate_limit: int  # requests per client IP per 5 minutes before the web application firewall blocks
    creates_zone: bool  # this stack creates the domain's public Route 53 zone; the others look it up
    # The security group (by its Name tag) that Terraform creates for the public load balancer (which Terraform
    # also creates, docs/edge.md); the node group admits it on the public services' ports.
    load_balancer_security_group: str
    log_bucket: str  # S3: load balancer and CDN access logs


@dataclass(frozen=True)
class DeployPlan:
    """How CI deploys to the environment: the branch that triggers it and the IAM role it assumes by OIDC."""

    branch: str | None  # the branch whose pushes deploy here; none: CI does not deploy it
    role: str  # the IAM role CI assumes by OIDC to deploy here; Terraform creates it
    infra_role: str  # the IAM role the infrastructure workflow assumes by OIDC to plan and apply this stack
    plan_role: str  # the IAM role of pull requests' plans: reads the stack, no secret values, no lock
    drift_role: str  # the IAM role of the scheduled drift check: reads the stack and this environment's secrets
    state_bucket: str  # S3: every stack's Terraform state (one bucket per platform, made by the bootstrap stack)
    state_key: str  # this environment's state object in it
    addons_state_key: str  # the state of its cluster add-ons' stack (`terraform/<env>/addons/`), beside it
    subject: str | None  # the OIDC `sub` of this environment's deploy jobs, when the repository is known
    pull_request_subject: str | None  # the OIDC `sub` plan_role trusts: the repository's pull request jobs
    # The branch scheduled workflows run on (GitHub runs them on the default branch), taken to be the production
    # environment's branch; none: no drift check. drift_subject is that branch's `sub`, which drift_role trusts.
    drift_branch: str | None
    drift_subject: str | None


@dataclass(frozen=True)
class RegistryPlan:
    """Where the services' images live, how CI pushes them and how the clusters pull them. Platform-wide."""

    ecr: bool  # Amazon ECR in the stack's account: the nodes pull by their role, CI pushes by OIDC, no token
    host: str  # the registry CI logs in to (ghcr.io, docker.io, ...); for ECR empty: the account's, known at run time
    repositories: tuple[str, ...]  # ECR: one per service, `<platform>/<service>`, in service order; else empty
    owner: str | None  # ECR: the environment whose stack creates the repositories and the push role
    push_role: str | None  # ECR: the IAM role CI's build job assumes by OIDC (needs delivery.repository)
    push_subjects: tuple[str, ...]  # its trust: the OIDC `sub` of the build job on each deploy branch
    keep_images: int  # ECR: images kept per repository


@dataclass(frozen=True)
class PullSecretPlan:
    """The image pull Secret of a registry that is not ECR: External Secrets builds it from a token in Secrets
    Manager that a person stores once; every service's pods name it."""

    name: str  # the kubernetes.io/dockerconfigjson Secret, and the ExternalSecret making it
    credentials: str  # the Secrets Manager secret: JSON with `username` and `token`
    host: str  # the registry the token signs in to


@dataclass(frozen=True)
class EnvironmentPlan:
    """One environment of the platform, resolved: its identity and every fact its targets share, flat, with the
    facts read together grouped (`slo`, `monitoring_stack`, `alerting`, `backups`, `logs`, `edge`,
    `deploy`, `recovery`)."""

    platform: str
    name: str
    source: str  # the spec file, as the user named it
    runs_on: str
    production: bool
    highly_available: bool
    rollout: str
    region: str
    partition: str  # the AWS partition of `region`: aws, aws-us-gov or aws-cn, the second field of every ARN
    domain: str
    registry: RegistryPlan
    pull_secret: PullSecretPlan | None  # none with ECR
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
    slo: SloPlan
    monitoring_stack: MonitoringStackPlan
    alerting: AlertingPlan
    backups: BackupPlan
    logs: LogsPlan
    edge: EdgePlan
    deploy: DeployPlan
    identities: tuple[WorkloadIdentity, ...]
    database_bootstraps: tuple[DatabaseBootstrap, ...]  # one per PostgreSQL store
    exporters: tuple[ExporterPlan, ...]  # one per data store, in store order
    spot: bool  # the nodes run on EC2 Spot capacity
    recovery: RecoveryPlan
    # The networks the Kubernetes API's public endpoint answers; empty: private only (the VPC).
    api_access: tuple[str, ...]
    buckets: tuple[BucketPlan, ...] = ()  # the application buckets, by name

    @property
    def qualified_name(self) -> str:
        return f"{self.platform}-{self.name}"

    def service(self, name: str) -> ServicePlan:
        return self._services_by_name[name]

    @property
    def slotted_services(self) -> tuple[ServicePlan, ...]:
        """The services blue-green switches, slot by slot: the deploy job's steps and the capacity check read these."""
        return tuple(service for service in self.services if service.slotted)

    @property
    def migrated_services(self) -> tuple[ServicePlan, ...]:
        """The services whose releases run migrations: the Kubernetes Jobs and the workflows' steps read these."""
        return tuple(service for service in self.services if service.migrated)

    @cached_property
    def _services_by_name(self) -> dict[str, ServicePlan]:  # targets look services up by name per edge
        return {service.name: service for service in self.services}

    def datastore(self, name: str) -> DatastorePlan:
        return next(store for store in self.datastores if store.name == name)

    def exporter(self, store: str) -> ExporterPlan:
        return next(exporter for exporter in self.exporters if exporter.store == store)

    def bucket(self, name: str) -> BucketPlan:
        return next(bucket for bucket in self.buckets if bucket.name == name)

    def connection_urls(self, service: ServicePlan) -> dict[str, str]:
        """Store name -> the connection string variable it gives the service (DATABASE_URL, REDIS_URL)."""
        return connection_url_variables({name: self.datastore(name).engine for name in service.uses})

    def service_config(self, service: ServicePlan) -> dict[str, str]:
        """Its own plain variables, read from the facts they state: its port, where each callee and data store
        is, then the spec's env, which wins."""
        config = {"PORT": str(service.port)} if service.port is not None else {}
        for callee in service.calls:
            config[service_url_variable(callee)] = f"http://{callee}:{self.service(callee).port}"
        for store in (self.datastore(name) for name in service.uses):
            config[f"{store.env_prefix}_HOST"] = store.host
            config[f"{store.env_prefix}_PORT"] = str(store.port)
            config[f"{store.env_prefix}_TLS"] = "true" if store.tls else "false"
            if store.engine == "postgres" and service.database:
                config[f"{store.env_prefix}_NAME"] = service.database
        for bucket in (self.bucket(name) for name in service.buckets):
            config[bucket.variable] = bucket.bucket
        if service.aws_services:
            config["AWS_REGION"] = self.region
        config.update(service.env)
        return dict(sorted(config.items()))


@dataclass(frozen=True)
class ServiceBuild:
    """One service's image as CI builds it: once, from the platform's Dockerfile, for every environment."""

    name: str
    image: str  # repository, no tag
    dockerfile: str
    build_args: Mapping[str, str]


@dataclass(frozen=True)
class PlatformPlan:
    """The resolved platform: `resolve(platform, source)` gives it, every target reads it. Per environment facts
    are in `environments`; the platform's own (its region, its goals) are fields here, so no target picks one
    environment to read them from."""

    name: str
    source: str
    region: str  # where every environment runs: the one the price table is for
    namespace: str  # the Kubernetes namespace of the services, in every cluster
    slo: SloPlan  # the same in every environment
    registry: RegistryPlan
    environments: tuple[EnvironmentPlan, ...] = field(default=())
    delivery: Delivery = field(default_factory=Delivery)  # CI commands and action pinning

    def on(self, runs_on: str) -> tuple[EnvironmentPlan, ...]:
        return tuple(env for env in self.environments if env.runs_on == runs_on)

    @property
    def builds(self) -> tuple[ServiceBuild, ...]:
        """What CI builds, per service in name order. An image is built once and deployed everywhere, so what it is
        built from (its image, port and health path) is the spec's, the same in every environment's plan."""
        first = self.environments[0].services if self.environments else ()
        return tuple(ServiceBuild(s.name, s.image, s.dockerfile, s.build_args) for s in first)
