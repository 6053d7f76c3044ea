"""Resolution: a validated platform and one of its environments in, that environment's plan out. Pure."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import replace

from bizinfra.naming import (
    ANYWHERE,
    BOOTSTRAP_COMPONENT,
    CLUSTER_AUTOSCALER,
    CONTAINER_LOG_KINDS,
    DOCKERFILE,
    ECR,
    ECR_KEEP_IMAGES,
    EXPORTER_COMPONENT,
    EXPORTER_PORTS,
    EXTERNAL_SECRETS,
    LOAD_BALANCER_CONTROLLER,
    MANAGED_BY,
    OUTPUT_FOLDER,
    PART_OF_LABEL,
    PULL_SECRET,
    REGISTRY_SECRET,
    RUNBOOKS,
    SERVICE_NAME_LABEL,
    VELERO,
    VELERO_SERVICE_ACCOUNT,
    aws_name,
    aws_partition,
    bootstrap_name,
    container_log_group,
    database_role_secret,
    exporter_name,
    github_branch_subject,
    github_pull_request_subject,
    github_subject,
    log_retention,
    secret_key,
    slot_deployments,
    state_key,
    store_endpoint_secret,
    tls_servername_variable,
)
from bizinfra.plan.cron import longest_gap_seconds
from bizinfra.plan.model import (
    AlertingPlan,
    BackupPlan,
    BucketPlan,
    BuildPlan,
    CronPlan,
    DatabaseBootstrap,
    DatabaseRole,
    DatastorePlan,
    DeployPlan,
    EdgePlan,
    EnvironmentPlan,
    ExporterPlan,
    ExternalHost,
    LogQuery,
    LogsPlan,
    MonitoringStackPlan,
    NetworkPlan,
    PlatformPlan,
    ProbePaths,
    PullSecretPlan,
    ReceiverPlan,
    RecoveryPlan,
    RegistryPlan,
    SecretRef,
    ServicePlan,
    SloPlan,
    StandbyPlan,
    WorkloadIdentity,
)
from bizinfra.spec.models import PILOT_LIGHT_RTO, Job, Platform, Scale, Service, default_recovery
from bizinfra.spec.node import pinned_node
from bizinfra.spec.quantities import seconds
from bizinfra.spec.storage import STORAGE_CLASSES, days, egress_target


def resolve(platform: Platform, source: str) -> PlatformPlan:
    """The plan of every environment of a platform, in name order."""
    return PlatformPlan(
        name=platform.name,
        source=source,
        region=platform.region,
        namespace=platform.name,
        slo=_slo(platform),
        registry=_registry(platform),
        environments=tuple(resolve_environment(platform, env, source) for env in sorted(platform.environments)),
        delivery=platform.delivery,
    )


def _slo(platform: Platform) -> SloPlan:
    monitoring = platform.monitoring
    return SloPlan(availability=monitoring.availability, latency_p95_seconds=float(seconds(monitoring.latency_p95)),
                   error_rate=monitoring.error_rate / 100, runbooks=_runbooks(platform))


def _runbooks(platform: Platform) -> str:
    """The base of every runbook link: by default the folder of pages the ops target generates, as the
    repository root sees it (with the default output folder)."""
    runbooks = platform.monitoring.runbooks or f"{OUTPUT_FOLDER}/{platform.name}/{RUNBOOKS}"
    return runbooks.rstrip("/")


def _monitoring_stack(platform: Platform) -> MonitoringStackPlan:
    stack = platform.monitoring.stack
    return MonitoringStackPlan(namespace=stack.namespace, release=stack.release)


def _alerting(platform: Platform, env_name: str) -> AlertingPlan:
    monitoring = platform.monitoring
    receivers = tuple(
        ReceiverPlan(name=name, kind=receiver.kind, secret=secret_key(platform.name, env_name, f"alerting/{name}"),
                     channel=receiver.channel, to=receiver.to, sender=receiver.sender, smarthost=receiver.smarthost)
        for name, receiver in sorted(monitoring.receivers.items()))
    return AlertingPlan(receivers=receivers, pages=monitoring.pages, tickets=monitoring.tickets,
                        heartbeat=monitoring.heartbeat)


def resolve_environment(platform: Platform, env_name: str, source: str) -> EnvironmentPlan:
    environment = platform.environments[env_name]
    kubernetes = environment.runs_on == "kubernetes"
    labels = {
        PART_OF_LABEL: platform.name,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "bizinfra.dev/environment": env_name,
    }
    private_zone = f"{platform.name}.internal"
    datastores = tuple(_datastore(platform, name, env_name, f"{name}.{private_zone}" if kubernetes else name,
                                  tls=kubernetes, roles=kubernetes,
                                  replicas=1 if environment.highly_available else 0)
                       for name in sorted(platform.datastores))
    bucket_stem = aws_name(platform.domain.replace(".", "-"), env_name, limit=55)
    registry = _registry(platform)
    callers = _callers(platform)
    cluster_name = f"{platform.name}-{env_name}"
    services = _with_migrations(tuple(_service(platform, name, env_name, labels, registry, datastores, callers[name])
                                      for name in sorted(platform.services)))
    standby_region = environment.recovery.region
    buckets = tuple(_bucket(platform, name, bucket_stem, standby_region) for name in sorted(platform.storage))
    return EnvironmentPlan(
        platform=platform.name,
        name=env_name,
        source=source,
        runs_on=environment.runs_on,
        production=platform.is_production(env_name),
        highly_available=environment.highly_available,
        rollout=environment.rollout,
        region=platform.region,
        partition=aws_partition(platform.region),
        domain=platform.domain,
        registry=registry,
        pull_secret=None if registry.ecr or not kubernetes else PullSecretPlan(
            name=PULL_SECRET, credentials=secret_key(platform.name, env_name, REGISTRY_SECRET), host=registry.host),
        namespace=platform.name,
        cluster_name=cluster_name,
        private_zone=private_zone,
        nodes=environment.nodes,
        sizes=environment.sizes,
        network=_network(platform.network.cidr, platform.network.zones),
        labels=labels,
        config_map=f"{platform.name}-config",
        config=_shared_config(platform.name, env_name, environment.env),
        services=services,
        datastores=datastores,
        slo=_slo(platform),
        monitoring_stack=_monitoring_stack(platform),
        alerting=_alerting(platform, env_name),
        backups=BackupPlan(schedule=platform.backups.schedule,
                           keep_days=max(1, int(seconds(platform.backups.keep) // 86400)),
                           bucket=f"{bucket_stem}-backups"),
        logs=_logs(platform, env_name, cluster_name, services),
        edge=EdgePlan(rate_limit=platform.edge.rate_limit,
                      creates_zone=platform.edge.zone == "create" and env_name == _owner_stack(platform),
                      load_balancer_security_group=aws_name(platform.name, env_name, "load-balancer", limit=255),
                      log_bucket=f"{bucket_stem}-logs"),
        deploy=DeployPlan(branch=environment.branch,
                          role=aws_name(platform.name, env_name, "deploy", limit=64),  # IAM role names allow 64
                          infra_role=aws_name(platform.name, env_name, "infrastructure", limit=64),
                          plan_role=aws_name(platform.name, env_name, "infrastructure-plan", limit=64),
                          drift_role=aws_name(platform.name, env_name, "infrastructure-drift", limit=64),
                          state_bucket=f"{aws_name(platform.domain.replace('.', '-'), limit=50)}-terraform-state",
                          state_key=state_key(platform.name, env_name),
                          addons_state_key=f"{platform.name}/{env_name}/addons.tfstate",
                          subject=github_subject(platform.delivery.repository, env_name),
                          pull_request_subject=github_pull_request_subject(platform.delivery.repository),
                          drift_branch=_drift_branch(platform),
                          drift_subject=github_branch_subject(platform.delivery.repository, _drift_branch(platform))),
        identities=_identities(platform.name, env_name),
        database_bootstraps=tuple(_bootstrap(platform.name, env_name, labels, store)
                                  for store in datastores if store.engine == "postgres"),
        exporters=tuple(_exporter(platform.name, env_name, labels, store) for store in datastores),
        spot=(not platform.is_production(env_name)) if environment.spot is None else environment.spot,
        recovery=_recovery(platform, env_name, f"{bucket_stem}-backups"),
        # Unset: anywhere, since GitHub-hosted runners have no fixed addresses (the field's description).
        api_access=(ANYWHERE,) if environment.api_access is None else tuple(environment.api_access),
        buckets=buckets,
    )


def _bucket(platform: Platform, name: str, bucket_stem: str, standby_region: str | None) -> BucketPlan:
    spec = platform.storage[name]
    transition = spec.transition
    bucket = aws_name(bucket_stem, name, limit=63)  # S3 allows 63
    return BucketPlan(
        name=name,
        bucket=bucket,
        # Named like the backup bucket's replica: the bucket's name and the region it is in.
        replica=aws_name(bucket, standby_region, limit=63) if standby_region else None,
        expire_days=days(spec.expire) if spec.expire else None,
        transition_days=days(transition.after) if transition else None,
        storage_class=STORAGE_CLASSES[transition.to] if transition else None,
        keep_versions_days=days(spec.keep_versions),
        users=tuple(sorted(n for n, s in platform.services.items() if name in s.uses)),
    )


def _drift_branch(platform: Platform) -> str | None:
    """The branch the drift schedule runs on: GitHub runs scheduled workflows on the default branch, which is where
    production deploys from; the first production environment (by name) with a branch, else none."""
    return next((platform.environments[name].branch for name in sorted(platform.environments)
                 if platform.is_production(name) and platform.environments[name].branch), None)


def _recovery(platform: Platform, env_name: str, backup_bucket: str) -> RecoveryPlan:
    environment = platform.environments[env_name]
    spec = environment.recovery
    default_rpo, default_rto = default_recovery(platform.is_production(env_name))
    rto = int(seconds(spec.rto or default_rto))
    standby = None
    if spec.region:
        pilot_light = rto >= seconds(PILOT_LIGHT_RTO)
        standby = StandbyPlan(
            region=spec.region,
            partition=aws_partition(spec.region),
            name=f"{env_name}-standby",
            bucket=aws_name(backup_bucket, spec.region, limit=63),
            replication_role=aws_name(platform.name, env_name, "replication", limit=64),
            log_bucket=aws_name(backup_bucket.removesuffix("-backups"), "standby-logs", limit=63),
            state_key=f"{platform.name}/{env_name}-standby/terraform.tfstate",
            pilot_light=pilot_light,
            # Scale's own floor is one node; a pilot light's group may shrink to none.
            nodes=Scale.model_construct(min=0, max=environment.nodes.max) if pilot_light else environment.nodes,
        )
    return RecoveryPlan(
        rpo_seconds=int(seconds(spec.rpo or default_rpo)),
        rto_seconds=rto,
        vault=aws_name(platform.name, env_name, limit=50),  # AWS Backup vault names allow 50
        backup_role=aws_name(platform.name, env_name, "backup", limit=64),
        snapshot_schedule=aws_backup_cron(platform.backups.schedule),
        standby=standby,
    )


def aws_backup_cron(schedule: str) -> str:
    """A five-field cron schedule as AWS Backup reads it (`cron(minutes hours day-of-month month day-of-week year)`):
    at the schedule's first minute, since AWS Backup runs at most hourly; days of the week 1-7 from Sunday, not 0-6;
    `?` for the day field left open; steps from the field's first value."""
    minute, hour, day_of_month, month, day_of_week = schedule.split()
    start = minute.split(",")[0].split("/")[0].split("-")[0]
    first_minute = int(start) if start.isdigit() else 0

    def stepped(field: str, start: str) -> str:
        return field.replace("*/", f"{start}/")

    if day_of_month != "*" and day_of_week != "*":  # cron's either-or, which AWS cannot say: every day, never fewer
        day_of_month = day_of_week = "*"
    day_of_week = "?" if day_of_week == "*" else _sunday_first(stepped(day_of_week, "1"))
    day_of_month = "?" if day_of_month == "*" and day_of_week != "?" else stepped(day_of_month, "1")
    return f"cron({first_minute} {stepped(hour, '0')} {day_of_month} {stepped(month, '1')} {day_of_week} *)"


def _sunday_first(field: str) -> str:
    """Standard cron's 0-6 (Sunday 0) as AWS's 1-7 (Sunday 1); names stay, a step's size stays."""
    def shifted(item: str) -> str:
        span, slash, step = item.partition("/")
        span = "-".join(str(int(part) + 1) if part.isdigit() else part for part in span.split("-"))
        return span + slash + step

    return ",".join(shifted(item) for item in field.split(","))


def _logs(platform: Platform, env_name: str, cluster: str, services: tuple[ServicePlan, ...]) -> LogsPlan:
    """Container logs in the environment's cluster, and a saved query per service: its containers' output, newest
    first. Fluent Bit's kubernetes filter (labels off) names each record's namespace and container, and a
    service's container carries its name in every slot."""
    queries = tuple(LogQuery(
        service=service.name,
        name=f"{platform.name}/{env_name}/{service.name}",
        query=(f"fields @timestamp, kubernetes.pod_name, log\n"
               f"| filter kubernetes.namespace_name = \"{platform.name}\""
               f" and kubernetes.container_name = \"{service.container}\"\n"
               f"| sort @timestamp desc\n"
               f"| limit 200"),
    ) for service in services)
    return LogsPlan(retention_days=log_retention(float(seconds(platform.logs.keep)) / 86400),
                    groups={kind: container_log_group(cluster, kind) for kind in CONTAINER_LOG_KINDS},
                    queries=queries)



def _registry(platform: Platform) -> RegistryPlan:
    """ECR when the spec says `ecr`: repositories `<platform>/<service>`, made with the GitHub OIDC provider by the
    owner stack, since an account holds one repository of a name. Any other registry: the host of its path."""
    if platform.registry != ECR:
        host = _registry_host(platform.registry or f"ghcr.io/{platform.name}")
        return RegistryPlan(ecr=False, host=host, repositories=(), owner=None, push_role=None, push_subjects=(),
                            keep_images=ECR_KEEP_IMAGES)
    repository = platform.delivery.repository
    branches = sorted({env.branch for env in platform.environments.values()
                       if env.branch and env.runs_on == "kubernetes"})
    return RegistryPlan(
        ecr=True, host="", repositories=tuple(f"{platform.name}/{name}" for name in sorted(platform.services)),
        owner=_owner_stack(platform),
        push_role=aws_name(platform.name, "image-push", limit=64) if repository else None,
        push_subjects=tuple(f"repo:{repository}:ref:refs/heads/{branch}" for branch in branches) if repository else (),
        keep_images=ECR_KEEP_IMAGES)


def _registry_host(image: str) -> str:
    """The registry of an image path: its first component when that is a host, else Docker Hub."""
    first, _, rest = image.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else "docker.io"


def _image(platform: Platform, registry: RegistryPlan, name: str) -> str:
    """A service's image without a tag. With ECR, its repository: the registry's host is the account's, which the
    workflows know at run time, so the deploy job and the build job put it in front."""
    spec = platform.services[name]
    if registry.ecr:
        return f"{platform.name}/{name}"
    return spec.image or f"{platform.registry or f'ghcr.io/{platform.name}'}/{name}"


def _service(platform: Platform, name: str, env_name: str, env_labels: Mapping[str, str], registry: RegistryPlan,
             datastores: tuple[DatastorePlan, ...], callers: tuple[str, ...]) -> ServicePlan:
    spec = platform.services[name]
    override = platform.environments[env_name].services.get(name)
    resources = (override and override.resources) or spec.resources
    cpu_request, cpu_limit = resources.cpu.split("..")
    memory_request, memory_limit = resources.memory.split("..")
    selector = {SERVICE_NAME_LABEL: name, PART_OF_LABEL: platform.name}
    used = [store for store in datastores if store.name in spec.uses]
    buckets = tuple(sorted(name for name in spec.uses if name in platform.storage))
    targets = [egress_target(target) for target in spec.egress]
    hosts = tuple(sorted(ExternalHost(*target) for target in targets if isinstance(target, tuple)))
    aws_services = tuple(sorted({t for t in targets if isinstance(t, str)} | ({"s3"} if buckets else set())))
    database = (spec.database or name.replace("-", "_")) if any(s.engine == "postgres" for s in used) else None
    return ServicePlan(
        name=name,
        port=spec.port,
        image=_image(platform, registry, name),
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
        uses=tuple(sorted(store.name for store in used)),
        labels={**selector, **env_labels, "app.kubernetes.io/component": _component(spec)},
        selector=selector,
        env={**spec.env, **(override.env if override else {})},
        secrets=_secrets(platform.name, env_name, spec.secrets, used, database),
        database=database,
        # Blue-green switches a Service's traffic: what takes no requests rolls out in place.
        slots=slot_deployments(name, platform.environments[env_name].rollout) if spec.kind == "web" else {},
        dockerfile=f"{OUTPUT_FOLDER}/{platform.name}/{DOCKERFILE}",
        probes=ProbePaths(spec.probes.startup or spec.health, spec.probes.readiness or spec.health,
                          spec.probes.liveness or spec.health),
        build=_build(platform, name),
        command=spec.command or (),
        buckets=buckets,
        external_hosts=hosts,
        aws_services=aws_services,
        identity=_service_identity(platform.name, env_name, name) if aws_services else None,
        kind=spec.kind,
        health_command=spec.health_command,
        cron=_cron(spec.schedule, spec.job) if spec.schedule else None,
    )


def _with_migrations(services: tuple[ServicePlan, ...]) -> tuple[ServicePlan, ...]:
    """Marks the services whose releases migrate their database: each service's own, except a cron job's that shares a
    running service's database (`database: api`): it uses the schema that service's release migrates, and would run
    its migrations twice."""
    running = {service.database for service in services if service.database and not service.cron}
    return tuple(replace(service, migrated=bool(service.database)
                         and (not service.cron or service.database not in running)) for service in services)


# What a package manager's install leaves in node_modules that the server does not need at run time, dropped after
# the build (`prune`), by the manager the install command runs.
PRUNE_COMMANDS = {"npm": "npm prune --omit=dev", "pnpm": "pnpm prune --prod",
                  "yarn": "yarn workspaces focus --all --production"}


def _build(platform: Platform, name: str) -> BuildPlan:
    """The spec's build settings, else the delivery's Node version and install, else a stock Nx workspace's
    layout: `nx build <project>` writes dist/apps/<project>, whose main.js is the NestJS server."""
    spec, delivery = platform.services[name].build, platform.delivery
    project = spec.project or name
    install = spec.install or delivery.install
    return BuildPlan(
        node_version=pinned_node(spec.node_version or delivery.node_version),
        install=install,
        command=spec.command or f"npx nx build {project}",
        output=spec.output or f"dist/apps/{project}",
        prune=spec.prune or PRUNE_COMMANDS.get(package_manager(install), PRUNE_COMMANDS["npm"]),
        start=spec.start or "node dist/main.js",
    )


def package_manager(command: str) -> str:
    """The package manager a command runs first (`npm ci`, `corepack enable && pnpm install`): npm, pnpm or yarn."""
    words = [word for word in command.replace("&&", " ").split() if word in PRUNE_COMMANDS]
    return words[0] if words else "npm"


def _component(spec: Service) -> str:
    """public or internal for a web service, else its kind (worker, cron)."""
    if spec.kind != "web":
        return spec.kind
    return "public" if spec.public else "internal"


def _cron(schedule: str, job: Job) -> CronPlan:
    return CronPlan(schedule=schedule, concurrency=job.concurrency.capitalize(),
                    timeout_seconds=int(seconds(job.timeout)), start_within_seconds=int(seconds(job.start_within)),
                    keep_succeeded=job.keep_succeeded, keep_failed=job.keep_failed,
                    longest_gap_seconds=longest_gap_seconds(schedule))


def _service_identity(platform: str, env_name: str, service: str) -> WorkloadIdentity:
    """A service's own IAM role through EKS Pod Identity, for its ServiceAccount. `app-` keeps its role and Terraform
    label apart from the add-ons' and the bootstrap Jobs'."""
    name = f"app-{service}"
    return WorkloadIdentity(name, platform, service, aws_name(platform, env_name, name, limit=64))


def _callers(platform: Platform) -> dict[str, tuple[str, ...]]:
    """Who calls each service, computed once: asking every service about every other is quadratic."""
    callers: dict[str, list[str]] = {name: [] for name in platform.services}
    for caller, service in platform.services.items():
        for callee in service.calls:
            callers[callee].append(caller)
    return {name: tuple(sorted(names)) for name, names in callers.items()}


def _datastore(platform: Platform, name: str, env_name: str, host: str, *, tls: bool, roles: bool,
               replicas: int) -> DatastorePlan:
    """`roles`: a role per database, as the bootstrap Job makes them in the cloud (compose's server has one owner)."""
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
        credentials=secret_key(platform.name, env_name, name),
        identifier=aws_name(platform.name, env_name, name, limit=40),  # ElastiCache ids allow 40
        replicas=replicas,
        roles=tuple(_role(platform, env_name, name, database) for database in databases) if roles else (),
        endpoint_secret=store_endpoint_secret(platform.name, env_name, name) if tls else None,
    )


def _role(platform: Platform, env_name: str, store: str, database: str) -> DatabaseRole:
    users = tuple(sorted(name for name, service in platform.services.items() if store in service.uses
                         and (service.database or name.replace("-", "_")) == database))
    return DatabaseRole(name=database, database=database,
                        credentials=database_role_secret(platform.name, env_name, store, database), users=users)


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


def _secrets(platform: str, env_name: str, declared: tuple[str, ...], used: list[DatastorePlan],
             database: str | None) -> tuple[SecretRef, ...]:
    """Its declared secrets, and per data store its credentials: its database's own role where the store has roles,
    else the store's one set."""
    refs = [SecretRef(name, secret_key(platform, env_name, name.lower().replace("_", "-")), None) for name in declared]
    for store in used:
        credentials = store.role(database).credentials if store.roles and database else store.credentials
        if store.engine == "postgres":
            refs.append(SecretRef(f"{store.env_prefix}_USERNAME", credentials, "username"))
        refs.append(SecretRef(f"{store.env_prefix}_PASSWORD", credentials, "password"))
        if store.endpoint_secret:  # the endpoint AWS gives the store, the name its certificate holds
            refs.append(SecretRef(tls_servername_variable(store.env_prefix), store.endpoint_secret, "host"))
    return tuple(sorted(refs, key=lambda ref: ref.variable))


def _shared_config(platform: str, env_name: str, env: Mapping[str, str]) -> dict[str, str]:
    """What every service of the environment gets. Service URLs are not here but in each caller's own config:
    a service learns only where its callees are, and the config grows with the calls, not with services squared."""
    return dict(sorted({"PLATFORM": platform, "ENVIRONMENT": env_name, **env}.items()))


def _network(cidr: str, zones: int) -> NetworkPlan:
    """Sixteen equal subnets: public ones from the start, private ones from the middle."""
    subnets = [str(net) for net in ipaddress.IPv4Network(cidr).subnets(prefixlen_diff=4)]
    return NetworkPlan(cidr=cidr, zones=zones, public_subnets=tuple(subnets[:zones]),
                       private_subnets=tuple(subnets[8:8 + zones]))


def _identities(platform: str, env_name: str) -> tuple[WorkloadIdentity, ...]:
    """The add-ons the manifests rely on that need AWS permissions, each with its own role, and the namespace and
    ServiceAccount its Helm release runs it as (the addons stack sets both from here)."""
    addons = [
        (LOAD_BALANCER_CONTROLLER, "kube-system", LOAD_BALANCER_CONTROLLER),
        (EXTERNAL_SECRETS, "external-secrets", EXTERNAL_SECRETS),
        (VELERO, "velero", VELERO_SERVICE_ACCOUNT),
        (CLUSTER_AUTOSCALER, "kube-system", CLUSTER_AUTOSCALER),
    ]
    return tuple(WorkloadIdentity(name, namespace, account, aws_name(platform, env_name, name, limit=64))
                 for name, namespace, account in addons)


def _bootstrap(platform: str, env_name: str, env_labels: Mapping[str, str],
               store: DatastorePlan) -> DatabaseBootstrap:
    name = bootstrap_name(store.name)
    selector = {SERVICE_NAME_LABEL: name, PART_OF_LABEL: platform}
    return DatabaseBootstrap(
        store=store.name,
        name=name,
        labels={**selector, **env_labels, "app.kubernetes.io/component": BOOTSTRAP_COMPONENT},
        selector=selector,
        identity=WorkloadIdentity(name, platform, name, aws_name(platform, env_name, name, limit=64)),
    )


def _exporter(platform: str, env_name: str, env_labels: Mapping[str, str], store: DatastorePlan) -> ExporterPlan:
    name = exporter_name(store.name)
    selector = {SERVICE_NAME_LABEL: name, PART_OF_LABEL: platform}
    own_secret = secret_key(platform, env_name, f"{store.name}/exporter")
    return ExporterPlan(
        store=store.name,
        engine=store.engine,
        name=name,
        port=EXPORTER_PORTS[store.engine],
        labels={**selector, **env_labels, "app.kubernetes.io/component": EXPORTER_COMPONENT},
        selector=selector,
        credentials=own_secret if store.engine == "postgres" else store.credentials,
    )


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
