"""docs/architecture.md: the seed's High-Level Architecture as a Mermaid flowchart, drawn from the spec."""

from __future__ import annotations

from bizinfra.plan import DatastorePlan, EnvironmentPlan, PlatformPlan, ServicePlan

ENGINES = {"postgres": ("PostgreSQL", "RDS"), "redis": ("Redis", "ElastiCache")}


def drawn_environment(plan: PlatformPlan) -> EnvironmentPlan:
    """The live environment when there is one, else the first on Kubernetes, else the first."""
    return next((env for env in plan.environments if env.production and env.runs_on == "kubernetes"),
                next(iter(plan.on("kubernetes")), plan.environments[0]))


def service_id(name: str) -> str:
    return "svc_" + name.replace("-", "_")


def datastore_id(name: str) -> str:
    return "ds_" + name.replace("-", "_")


def architecture_markdown(plan: PlatformPlan) -> str:
    env = drawn_environment(plan)
    return "\n".join([
        f"# {plan.name}: architecture",
        "",
        f"The {env.name} environment as the spec describes it. Solid arrows are requests (the load balancer's",
        "host rules and each service's `calls`), dotted arrows are data (`uses`, and the database dumps of",
        "`scripts/db-backup.sh`). The network policies and security groups are generated from the same edges.",
        "",
        "```mermaid",
        *flowchart(env),
        "```",
        "",
        *service_table(env),
        *egress_table(env),
    ]) + "\n"


def flowchart(env: EnvironmentPlan) -> list[str]:
    kubernetes = env.runs_on == "kubernetes"
    public = [service for service in env.services if service.public_host]
    lines = ["flowchart TB"]
    if public:
        lines += ['  users(["Users"])', '  cdn["CloudFront<br/>CDN + WAF"]', '  alb["Application Load Balancer"]',
                  "  users --> cdn", "  cdn --> alb"]
    where = f"EKS cluster {env.cluster_name}, namespace {env.namespace}" if kubernetes else "docker compose"
    lines.append(f'  subgraph cluster["{where}"]')
    lines += [f"    {service_node(service)}" for service in env.services]
    lines.append("  end")
    dumped = [store for store in env.datastores if store.databases and kubernetes]
    if env.datastores:
        lines.append('  subgraph data["Data stores"]')
        lines += [f"    {datastore_node(store, kubernetes)}" for store in env.datastores]
        if dumped:
            lines.append(f'    backups[("S3<br/>{env.backups.bucket}")]')
        lines.append("  end")
    for service in public:
        lines.append(f'  alb -->|"{service.public_host}"| {service_id(service.name)}')
    for service in env.services:
        lines += [f"  {service_id(service.name)} --> {service_id(called)}" for called in service.calls]
        lines += [f"  {service_id(service.name)} -.-> {datastore_id(store)}" for store in service.uses]
    lines += [f'  {datastore_id(store.name)} -.->|"daily dumps"| backups' for store in dumped]
    if env.buckets:
        lines.append('  subgraph storage["Buckets (S3)"]')
        lines += [f'    {bucket_id(bucket.name)}[("{bucket.name}<br/>{bucket.bucket}")]' for bucket in env.buckets]
        lines.append("  end")
    for service in env.services:
        lines += [f"  {service_id(service.name)} -.-> {bucket_id(name)}" for name in service.buckets]
    return lines


def bucket_id(name: str) -> str:
    return "bucket_" + name.replace("-", "_")


def service_node(service: ServicePlan) -> str:
    if service.cron:
        return f'{service_id(service.name)}["{service.name}<br/>cron job, {service.cron.schedule} UTC"]'
    low, high = service.replicas.min, service.replicas.max
    replicas = f"{low} replicas" if low == high else f"{low} to {high} replicas"
    listens = f"port {service.port}" if service.takes_requests else \
        (f"worker, metrics on {service.port}" if service.port else "worker")
    return f'{service_id(service.name)}["{service.name}<br/>{listens}, {replicas}"]'


def datastore_node(store: DatastorePlan, managed: bool) -> str:
    engine, service = ENGINES[store.engine]
    runs = service if managed else "container"
    return f'{datastore_id(store.name)}[("{store.name}<br/>{engine} {store.version}, {runs}")]'


def egress_table(env: EnvironmentPlan) -> list[str]:
    """What each service reaches outside the platform, as its `uses` and `egress` declare it; the network policies
    allow exactly this, and `bizinfra validate` reads it back."""
    reaching = [service for service in env.services if service.buckets or service.egress_ports]
    if not reaching:
        return []
    lines = ["", "## Outside the platform", "",
             "| service | external hosts | AWS services | buckets |", "|---|---|---|---|"]
    for service in reaching:
        hosts = ", ".join(f"{host.host}:{host.port}" for host in service.external_hosts) or "-"
        lines.append(f"| {service.name} | {hosts} | {', '.join(service.aws_services) or '-'} | "
                     f"{', '.join(service.buckets) or '-'} |")
    return lines


def service_table(env: EnvironmentPlan) -> list[str]:
    lines = ["| service | port | public host | health | calls | uses |", "|---|---|---|---|---|---|"]
    for service in env.services:
        lines.append(f"| {service.name} | {service.port or '-'} | {service.public_host or '-'} | {health(service)} | "
                     f"{', '.join(service.calls) or '-'} | {', '.join(service.uses) or '-'} |")
    return lines


def health(service: ServicePlan) -> str:
    """How it is checked: a web service's health path, a worker's command or metrics path, a cron job's schedule."""
    if service.cron:
        return f"runs `{service.cron.schedule}` (UTC)"
    if service.health_command:
        return "`{}`".format(service.health_command.replace("|", "\\|"))  # a table cell
    return f"`{service.liveness_path}`"
