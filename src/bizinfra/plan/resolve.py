"""Resolution: a validated platform and one of its environments in, that environment's plan out. Pure."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from bizinfra.naming import (
    BOOTSTRAP_COMPONENT,
    CLUSTER_AUTOSCALER,
    CONTAINER_LOG_KINDS,
    DOCKERFILE,
    EXTERNAL_SECRETS,
    LOAD_BALANCER_CONTROLLER,
    MANAGED_BY,
    OUTPUT_FOLDER,
    PART_OF_LABEL,
    RUNBOOKS,
    SERVICE_NAME_LABEL,
    VELERO,
    aws_name,
    aws_partition,
    bootstrap_name,
    container_log_group,
    github_subject,
    log_retention,
    secret_key,
    slot_deployments,
)
from bizinfra.plan.model import (
    AlertingPlan,
    BackupPlan,
    BucketPlan,
    DatabaseBootstrap,
    DatastorePlan,
    DeployPlan,
    EdgePlan,
    EnvironmentPlan,
    ExternalHost,
    LogQuery,
    LogsPlan,
    MonitoringStackPlan,
    NetworkPlan,
    PlatformPlan,
    ReceiverPlan,
    SecretRef,
    ServicePlan,
    SloPlan,
    WorkloadIdentity,
)
from bizinfra.spec.models import Platform
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
                                  tls=kubernetes) for name in sorted(platform.datastores))
    bucket_stem = aws_name(platform.domain.replace(".", "-"), env_name, limit=55)
    registry = platform.registry or f"ghcr.io/{platform.name}"
    callers = _callers(platform)
    cluster_name = f"{platform.name}-{env_name}"
    services = tuple(_service(platform, name, env_name, labels, registry, datastores, callers[name])
                     for name in sorted(platform.services))
    buckets = tuple(_bucket(platform, name, bucket_stem) for name in sorted(platform.storage))
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
                          state_bucket=f"{aws_name(platform.domain.replace('.', '-'), limit=50)}-terraform-state",
                          state_key=f"{platform.name}/{env_name}/terraform.tfstate",
                          subject=github_subject(platform.delivery.repository, env_name),
                          creates_github_oidc=env_name == _owner_stack(platform)),
        identities=_identities(platform.name, env_name),
        database_bootstraps=tuple(_bootstrap(platform.name, env_name, labels, store)
                                  for store in datastores if store.engine == "postgres"),
        spot=(not platform.is_production(env_name)) if environment.spot is None else environment.spot,
        buckets=buckets,
    )


def _bucket(platform: Platform, name: str, bucket_stem: str) -> BucketPlan:
    spec = platform.storage[name]
    transition = spec.transition
    return BucketPlan(
        name=name,
        bucket=aws_name(bucket_stem, name, limit=63),  # S3 allows 63
        expire_days=days(spec.expire) if spec.expire else None,
        transition_days=days(transition.after) if transition else None,
        storage_class=STORAGE_CLASSES[transition.to] if transition else None,
        keep_versions_days=days(spec.keep_versions),
        users=tuple(sorted(n for n, s in platform.services.items() if name in s.uses)),
    )


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


def _service(platform: Platform, name: str, env_name: str, env_labels: Mapping[str, str], registry: str,
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
        uses=tuple(sorted(store.name for store in used)),
        labels={**selector, **env_labels, "app.kubernetes.io/component": "public" if spec.public else "internal"},
        selector=selector,
        env={**spec.env, **(override.env if override else {})},
        secrets=_secrets(platform.name, env_name, spec.secrets, used),
        database=database,
        slots=slot_deployments(name, platform.environments[env_name].rollout),
        dockerfile=f"{OUTPUT_FOLDER}/{platform.name}/{DOCKERFILE}",
        buckets=buckets,
        external_hosts=hosts,
        aws_services=aws_services,
        identity=_service_identity(platform.name, env_name, name) if aws_services else None,
    )


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
        credentials=secret_key(platform.name, env_name, name),
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


def _secrets(platform: str, env_name: str, declared: tuple[str, ...], used: list[DatastorePlan]) -> tuple[SecretRef, ...]:
    refs = [SecretRef(name, secret_key(platform, env_name, name.lower().replace("_", "-")), None) for name in declared]
    for store in used:
        if store.engine == "postgres":
            refs.append(SecretRef(f"{store.env_prefix}_USERNAME", store.credentials, "username"))
        refs.append(SecretRef(f"{store.env_prefix}_PASSWORD", store.credentials, "password"))
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
    """The add-ons the manifests rely on that need AWS permissions, each with its own role."""
    addons = [
        (LOAD_BALANCER_CONTROLLER, "kube-system"),
        (EXTERNAL_SECRETS, "external-secrets"),
        (VELERO, "velero"),
        (CLUSTER_AUTOSCALER, "kube-system"),
    ]
    return tuple(WorkloadIdentity(name, namespace, name, aws_name(platform, env_name, name, limit=64))
                 for name, namespace in addons)


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
