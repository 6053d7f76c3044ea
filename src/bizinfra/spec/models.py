"""The spec language: what a user writes about their platform, in their own words.

Every model is frozen and forbids unknown keys. Every default sits beside its field with
the reason for it, and every default can be overridden. Checks that need the whole
platform (references, unique ports) live in `Platform`'s validator, so a `Platform`
that exists is a valid one.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bizinfra.spec import quantities
from bizinfra.spec.base import Frozen
from bizinfra.spec.patches import Patch
from bizinfra.spec.text import PathTuple, did_you_mean, dotted

# -- scalar vocabulary ---------------------------------------------------------------

def _port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise PydanticCustomError("port", "must be between 1 and 65535 (got {port})", {"port": port})
    return port


Name = Annotated[
    StrictStr,
    StringConstraints(max_length=40, pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$"),
    Field(description="A DNS-1035 label (what a Kubernetes Service name must be): lower-case letters, digits and "
          "'-', starting with a letter, at most 40 characters so that names built from it stay within limits."),
]
ShortName = Annotated[
    StrictStr,
    StringConstraints(max_length=16, pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$"),
    Field(description="A DNS-1123 label starting with a letter, at most 16 characters: environment and data store "
          "names become part of AWS identifiers such as `<platform>-<environment>-<datastore>`."),
]
PlatformName = Annotated[
    StrictStr,
    StringConstraints(max_length=20, pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$"),
    Field(description="A DNS-1123 label starting with a letter, at most 20 characters: AWS names built "
          "from it (ElastiCache ids allow 40, load balancers 32) must stay within their limits."),
]
EnvName = Annotated[
    StrictStr,
    StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$", max_length=128),
    Field(description="An environment variable name: upper-case letters, digits and '_'."),
]
Hostname = Annotated[
    StrictStr,
    StringConstraints(
        max_length=253,
        pattern=r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
    ),
    Field(description="A fully qualified, lower-case DNS name such as api.example.com."),
]
HttpPath = Annotated[StrictStr, StringConstraints(pattern=r"^/[A-Za-z0-9._~/-]*$", max_length=200)]
Port = Annotated[
    StrictInt,
    AfterValidator(_port),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 65535}),
    Field(description="A TCP port, 1 to 65535."),
]
Region = Annotated[StrictStr, StringConstraints(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")]
GitBranch = Annotated[
    StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$")
]
InstanceType = Annotated[StrictStr, StringConstraints(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")]
DatabaseClass = Annotated[StrictStr, StringConstraints(pattern=r"^db\.[a-z0-9-]+\.[a-z0-9]+$")]
CacheNodeType = Annotated[StrictStr, StringConstraints(pattern=r"^cache\.[a-z0-9-]+\.[a-z0-9]+$")]


def _check_range(text: str, parse: Any, unit: str) -> str:
    request, _, limit = (part.strip() for part in text.partition(".."))
    limit = limit or request
    if parse(request) > parse(limit):
        raise PydanticCustomError(
            "request_above_limit",
            "the {unit} request {request} is above its limit {limit}",
            {"unit": unit, "request": request, "limit": limit},
        )
    return f"{request}..{limit}"


def _cpu_range(text: str) -> str:
    return _check_range(text, quantities.millicores, "CPU")


def _memory_range(text: str) -> str:
    return _check_range(text, quantities.memory_bytes, "memory")


def _duration(text: str) -> str:
    quantities.seconds(text)
    return text


def _percent(value: object) -> float:
    return float(quantities.percent(value))


def _cron(text: str) -> str:
    fields = text.split()
    if len(fields) != 5 or not all(re.fullmatch(r"[0-9*/,\-]+", field) for field in fields):
        raise ValueError(f"'{text}' is not a five-field cron schedule such as '0 2 * * *'")
    return " ".join(fields)


CpuRange = Annotated[
    StrictStr,
    AfterValidator(_cpu_range),
    Field(description="CPU request..limit, e.g. 100m..500m; a single value sets both."),
]
MemoryRange = Annotated[
    StrictStr,
    AfterValidator(_memory_range),
    Field(description="Memory request..limit, e.g. 256Mi..512Mi; a single value sets both."),
]
Duration = Annotated[
    StrictStr,
    AfterValidator(_duration),
    Field(description="A duration: a number and one of ms, s, m, h, d (e.g. 500ms, 1s, 30d)."),
]
Percent = Annotated[
    float,
    BeforeValidator(_percent),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^\d+(\.\d+)?%$"}]}),
    Field(description="A percentage strictly between 0 and 100, written 5% or 5."),
]
Cron = Annotated[StrictStr, AfterValidator(_cron), Field(description="A five-field cron schedule, e.g. '0 2 * * *'.")]


# -- building blocks -------------------------------------------------------------------


class Scale(Frozen):
    """A count that may float between bounds: `3`, or `{min: 3, max: 10}`."""

    min: StrictInt = Field(ge=1, le=1000, description="The fewest copies that run.")
    max: StrictInt = Field(ge=1, le=1000, description="The most copies autoscaling may add up to.")

    @model_validator(mode="before")
    @classmethod
    def _from_count(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return {"min": value, "max": value}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if self.min > self.max:
            raise PydanticCustomError("min_above_max", "min ({min}) must not exceed max ({max})",
                                      {"min": self.min, "max": self.max})
        return self


ScaleSpec = Annotated[
    Scale,
    WithJsonSchema({"anyOf": [
        {"type": "integer", "minimum": 1, "maximum": 1000},
        {"type": "object", "properties": {"min": {"type": "integer", "minimum": 1},
                                          "max": {"type": "integer", "minimum": 1}},
         "required": ["min", "max"], "additionalProperties": False},
    ]}),
]


class Resources(Frozen):
    cpu: CpuRange = Field("100m..500m", description="CPU request..limit. Default from the seed's api-gateway.")
    memory: MemoryRange = Field("256Mi..512Mi", description="Memory request..limit. Default from the seed's api-gateway.")


class Public(Frozen):
    host: Hostname = Field(description="The public host name the load balancer answers for, under the platform's domain.")


class Service(Frozen):
    port: Port = Field(8080, description="The port the service listens on, everywhere: container, Service, compose.")
    image: StrictStr | None = Field(None, description="The image repository; default `<registry>/<service>`.")
    replicas: ScaleSpec = Field(default_factory=lambda: Scale(min=2, max=2),
                                description="Copies to run: a number, or min and max for autoscaling. "
                                "Default 2, so that one copy can be lost without downtime.")
    resources: Resources = Field(default_factory=Resources)
    health: HttpPath = Field("/health", description="The HTTP path that answers 200 when the service is healthy.")
    metrics: HttpPath = Field("/metrics", description="The HTTP path Prometheus scrapes on the service port.")
    public: Public | None = Field(None, description="Set when the service is reachable from the internet.")
    calls: tuple[Name, ...] = Field((), description="The services this one sends requests to.")
    uses: tuple[Name, ...] = Field((), description="The data stores this one reads and writes.")
    secrets: tuple[EnvName, ...] = Field(
        (), description="Secret environment variables, by name; values live in the secret store.")
    env: dict[EnvName, StrictStr] = Field(default_factory=dict, description="Plain (non-secret) environment variables.")
    database: Annotated[StrictStr, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")] | None = Field(
        None, description="Its PostgreSQL database name; default the service name with '_' for '-'.")


class Datastore(Frozen):
    engine: Literal["postgres", "redis"]
    version: Annotated[StrictStr, StringConstraints(pattern=r"^\d+(\.\d+)?$")] = Field(
        description="Engine version, major or major.minor, e.g. '15' or '7.1'.")
    port: Port | None = Field(None, description="Default 5432 for postgres, 6379 for redis.")
    env_prefix: Annotated[StrictStr, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$")] | None = Field(
        None, description="Prefix of the connection variables its users get (DB_HOST ...); "
        "default DB for postgres, REDIS for redis.")

    @model_validator(mode="after")
    def _supported_version(self) -> Datastore:
        supported = {"postgres": range(13, 18), "redis": range(6, 8)}[self.engine]
        if int(self.version.split(".")[0]) not in supported:
            raise PydanticCustomError(
                "unsupported_version", "{engine} {version} is not offered by AWS; use a major version from {low} to {high}",
                {"engine": self.engine, "version": self.version, "low": supported[0], "high": supported[-1]})
        return self


class Network(Frozen):
    cidr: StrictStr = Field("10.0.0.0/16", description="The VPC's IPv4 range; /16 to /24.")
    zones: StrictInt = Field(2, ge=2, le=6, description="Availability zones to spread over; EKS needs at least 2.")

    @model_validator(mode="after")
    def _subnets_fit(self) -> Network:
        try:
            network = ipaddress.IPv4Network(self.cidr)
        except ValueError as error:
            raise PydanticCustomError("cidr", "'{cidr}' is not an IPv4 network: {error}",
                                      {"cidr": self.cidr, "error": str(error)}) from None
        if not 16 <= network.prefixlen <= 24:
            raise PydanticCustomError(
                "cidr_size", "'{cidr}' is a /{prefix}; the VPC must be /16 to /24 so that "
                "{zones} public and {zones} private subnets (each 1/16 of it) fit",
                {"cidr": self.cidr, "prefix": network.prefixlen, "zones": self.zones})
        return self


class Sizes(Frozen):
    node: InstanceType = Field("t3.medium", description="EC2 instance type of the Kubernetes nodes (seed: t3.medium).")
    database: DatabaseClass = Field("db.t3.medium", description="RDS instance class (seed: db.t3.medium outside production).")
    database_storage: StrictInt = Field(100, ge=20, le=65536, description="RDS storage in GiB (seed: 100).")
    cache: CacheNodeType = Field("cache.t3.medium",
                                 description="ElastiCache node type (seed: cache.t3.medium outside production).")


class ServiceOverride(Frozen):
    replicas: ScaleSpec | None = None
    resources: Resources | None = None
    env: dict[EnvName, StrictStr] = Field(default_factory=dict, description="Added to, and overriding, the service's env.")
    public: Public | None = Field(None, description="The public host in this environment.")


class Environment(Frozen):
    runs_on: Literal["compose", "kubernetes"] = Field("kubernetes", description="Where it runs.")
    production: StrictBool | None = Field(
        None, description="The live environment; default true only for the one named production.")
    branch: GitBranch | None = Field(None, description="The git branch whose pushes deploy here.")
    nodes: ScaleSpec = Field(default_factory=lambda: Scale(min=1, max=1), description="Kubernetes node count.")
    sizes: Sizes = Field(default_factory=Sizes)
    highly_available: StrictBool = Field(False, description="Multi-AZ database, cache failover, a NAT gateway per zone.")
    rollout: Literal["rolling", "blue-green"] = Field("rolling", description="How new versions replace old ones.")
    env: dict[EnvName, StrictStr] = Field(default_factory=dict, description="Variables every service gets here.")
    services: dict[Name, ServiceOverride] = Field(default_factory=dict, description="Per-service changes.")
    spot: StrictBool | None = Field(
        None, description="Run the Kubernetes nodes on EC2 Spot capacity. Default: on outside production, off in "
        "production, as the seed's cost tips suggest: Spot costs up to 90% less, and an interruption (two minutes' "
        "notice) is acceptable where nobody is served, not where customers are.")

    @model_validator(mode="after")
    def _compose_is_simple(self) -> Environment:
        if self.runs_on == "compose" and self.rollout != "rolling":
            raise PydanticCustomError("compose_rollout", "blue-green rollout needs runs_on: kubernetes", {})
        return self


def default_environments() -> dict[str, Environment]:
    """The seed's environment table: compose for development, one node staging, three node production."""
    return {
        "development": Environment(runs_on="compose"),
        "staging": Environment(branch="develop"),
        "production": Environment(branch="main", nodes=Scale(min=3, max=3), highly_available=True),
    }


class Monitoring(Frozen):
    availability: Percent = Field(99.9, description="The availability SLO, in percent (seed: 99.9).")
    latency_p95: Duration = Field("1s", description="Alert when the 95th percentile latency is above this (seed: 1s).")
    error_rate: Percent = Field(5.0, description="Alert when this share of requests fail (seed: 5%).")
    runbooks: Annotated[StrictStr, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\s{}]+$")] = Field(
        "docs/runbooks", description="Where the alert runbooks live: alert X links to `<runbooks>/x.md`. Default "
        "`docs/runbooks`, a folder of the platform's own repository, since runbooks change with the code they "
        "describe; set a full URL (e.g. https://github.com/acme/business/blob/main/docs/runbooks) for clickable links.")


class Backups(Frozen):
    schedule: Cron = Field("0 2 * * *", description="When backups run, in UTC (seed: daily at 02:00).")
    keep: Duration = Field("30d", description="How long backups are kept (seed: 30 days).")


class Delivery(Frozen):
    """How the services are built, tested and migrated in CI: the commands of the application's own repository."""

    node_version: Annotated[StrictStr, StringConstraints(pattern=r"^\d+(\.\d+){0,2}$")] = Field(
        "24", description="Node.js version CI installs. Default 24, the Active LTS line; the seed's 20 reached its "
        "end of life on 2026-04-30.")
    install: StrictStr = Field("npm ci", description="Installs dependencies from the lockfile (seed: npm ci).")
    lint: StrictStr = Field("npm run lint", description="The lint command (seed: npm run lint).")
    test: StrictStr = Field("npm test -- --coverage", description="The test command; it writes coverage/ "
                            "(seed: npm test -- --coverage).")
    migrate: StrictStr = Field("npx prisma migrate deploy", description="Applies pending database migrations, run "
                               "inside a live pod of the service (seed: npx prisma migrate deploy).")
    rollback: StrictStr = Field("npm run migrate:rollback", description="Undoes the latest migration, run inside a live "
                                "pod. Default a package.json script the application defines: the seed's "
                                "`prisma migrate reset --force` drops every table, which no rollback should do.")
    repository: Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$")] | None = Field(
        None, description="The GitHub repository (owner/name) whose workflows deploy. Default unset, since "
        "it cannot be guessed; when set, each deploy role trusts only that repository's jobs in the matching "
        "GitHub environment (OIDC subject `repo:<owner>/<name>:environment:<env>`).")
    pin_actions: Literal["sha", "tag"] = Field(
        "sha", description="How workflows refer to actions: `sha` pins each to the full commit of a reviewed "
        "release, `tag` to its major tag. Default sha: tags can be moved, as aquasecurity/trivy-action's were "
        "in March 2026 to ship a credential stealer.")


class Edge(Frozen):
    """What stands in front of the public hosts: DNS zone, CDN and web application firewall."""

    zone: Literal["existing", "create"] = Field(
        "existing", description="The domain's public Route 53 hosted zone: `existing` looks it up, `create` has the "
        "production stack create it (other environments look it up, so apply production first, then delegate the "
        "domain to the zone's name servers). Default existing: a domain has one zone, usually made when it was "
        "registered, and a second zone of the same name would answer nothing.")
    rate_limit: StrictInt = Field(
        2000, ge=10, le=2_000_000_000, description="Requests one client IP may make in 5 minutes before the web "
        "application firewall blocks it (AWS WAF allows 10 to 2e9). Default 2000 (about 7 a second sustained): AWS "
        "WAF's original minimum for rate-based rules, generous for people using an API through an app, low enough "
        "to stop a single-source flood or credential stuffing; raise it for clients behind one NAT.")


# -- the platform ------------------------------------------------------------------------

Problem = tuple[PathTuple, str]


class Platform(Frozen):
    """One business application: its services, data stores, environments and goals."""

    model_config = ConfigDict(title="bizinfra platform")

    name: PlatformName = Field(description="The platform's name; prefixes every resource.")
    domain: Hostname = Field(description="The DNS domain the public hosts live under.")
    region: Region = Field("us-east-1", description="The AWS region.")
    registry: StrictStr = Field("", description="Where images are pushed; default ghcr.io/<name>.")
    network: Network = Field(default_factory=Network)
    services: dict[Name, Service] = Field(min_length=1)
    datastores: dict[ShortName, Datastore] = Field(default_factory=dict)
    environments: dict[ShortName, Environment] = Field(default_factory=default_environments, min_length=1)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    backups: Backups = Field(default_factory=Backups)
    delivery: Delivery = Field(default_factory=Delivery, description="CI/CD commands and how actions are pinned.")
    edge: Edge = Field(default_factory=Edge, description="DNS zone, CDN and firewall in front of the public hosts.")
    patches: tuple[Patch, ...] = Field((), description="Edits to generated documents, applied last: the escape hatch.")

    @model_validator(mode="after")
    def _consistent(self) -> Platform:
        problems = [*self._reference_problems(), *self._port_problems(), *self._environment_problems()]
        if problems:
            summary = "\n".join(f"{dotted(path)}: {message}" for path, message in problems)
            raise PydanticCustomError("platform", "{summary}", {"summary": summary, "problems": tuple(problems)})
        return self

    def _reference_problems(self) -> list[Problem]:
        problems: list[Problem] = []
        for name in sorted(self.services.keys() & self.datastores.keys()):
            problems.append((("datastores", name), f"'{name}' is also a service; names must be unique"))
        if self.name in self.services:  # `<platform>-config` is the shared ConfigMap, `<service>-config` its own
            problems.append((("services", self.name), f"'{self.name}' is the platform's name; their ConfigMaps "
                             "would collide, so name the service differently"))
        for store in sorted(self.datastores):
            job = f"{store}-bootstrap"  # plan.bootstrap_name: the Job that creates the store's role and databases
            if self.datastores[store].engine == "postgres" and job in self.services:
                problems.append((("services", job), f"'{job}' is the name of the Job that bootstraps data store "
                                 f"'{store}'; name the service differently"))
        for name, service in self.services.items():
            problems += _references(("services", name, "calls"), service.calls, self.services, self.datastores, "service")
            problems += _references(("services", name, "uses"), service.uses, self.datastores, self.services, "data store")
            if name in service.calls:
                problems.append((("services", name, "calls"), f"'{name}' cannot call itself"))
            problems += _duplicates(("services", name, "secrets"), service.secrets)
            for key in sorted(service.env.keys() & set(service.secrets)):
                problems.append((("services", name, "env", key), f"'{key}' is also listed under secrets"))
            problems += self._credential_clashes(name, service)
            prefixes = Counter(self.env_prefix(store) for store in service.uses if store in self.datastores)
            for prefix, count in sorted(prefixes.items()):
                if count > 1:
                    problems.append((("services", name, "uses"), f"{count} data stores give it {prefix}_* variables; "
                                     "set env_prefix on one of them"))
            if service.public and not _under(service.public.host, self.domain):
                problems.append((("services", name, "public", "host"),
                                 f"'{service.public.host}' is not under the platform's domain '{self.domain}'"))
        return problems

    def _credential_clashes(self, name: str, service: Service) -> list[Problem]:
        """Its env and secrets must not shadow the credentials its data stores give it."""
        given = {f"{self.env_prefix(store)}_{part}" for store in service.uses if store in self.datastores
                 for part in ("USERNAME", "PASSWORD")}
        problems: list[Problem] = []
        for index, secret in enumerate(service.secrets):
            if secret in given:
                problems.append((("services", name, "secrets", index), f"'{secret}' is set from its data store's credentials"))
        for key in sorted(service.env.keys() & given):
            problems.append((("services", name, "env", key), f"'{key}' is a secret set from its data store's credentials"))
        return problems

    def _port_problems(self) -> list[Problem]:
        owners: dict[int, PathTuple] = {}
        problems: list[Problem] = []
        listeners = [(("services", n, "port"), s.port) for n, s in self.services.items()]
        listeners += [(("datastores", n, "port"), self.datastore_port(n)) for n in self.datastores]
        for path, port in listeners:
            if port in owners:
                problems.append((path, f"port {port} is already used by {owners[port][0]}.{owners[port][1]}"))
            owners.setdefault(port, path)
        return problems

    def _environment_problems(self) -> list[Problem]:
        problems: list[Problem] = []
        live = [name for name in self.environments if self.is_production(name)]
        for name in live[1:]:
            problems.append((("environments", name, "production"), f"only one environment can be production; "
                             f"'{live[0]}' already is"))
        branches: dict[str, str] = {}
        for name, environment in self.environments.items():
            path = ("environments", name)
            if environment.branch in branches:
                problems.append(((*path, "branch"), f"branch '{environment.branch}' already deploys "
                                 f"'{branches[environment.branch]}'"))
            if environment.branch:
                branches.setdefault(environment.branch, name)
            for service, override in environment.services.items():
                if service not in self.services:
                    hint = did_you_mean(service, self.services)
                    problems.append(((*path, "services", service), f"no service named '{service}'{hint}"))
                elif override.public and not self.services[service].public:
                    problems.append(((*path, "services", service, "public"),
                                     f"'{service}' is not public; set public on the service itself"))
                elif override.public and not _under(override.public.host, self.domain):
                    problems.append(((*path, "services", service, "public", "host"),
                                     f"'{override.public.host}' is not under the platform's domain '{self.domain}'"))
        return problems

    def is_production(self, environment: str) -> bool:
        flag = self.environments[environment].production
        return environment == "production" if flag is None else flag

    def datastore_port(self, name: str) -> int:
        store = self.datastores[name]
        return store.port or {"postgres": 5432, "redis": 6379}[store.engine]

    def env_prefix(self, name: str) -> str:
        store = self.datastores[name]
        return store.env_prefix or {"postgres": "DB", "redis": "REDIS"}[store.engine]


def _references(path: PathTuple, names: tuple[str, ...], known: dict[str, Any],
                other: dict[str, Any], kind: str) -> list[Problem]:
    problems = _duplicates(path, names)
    for index, name in enumerate(names):
        if name in known:
            continue
        if name in other:
            where = "calls" if path[-1] == "uses" else "uses"
            problems.append(((*path, index), f"'{name}' is not a {kind}; list it under {where}"))
        else:
            problems.append(((*path, index), f"no {kind} named '{name}'{did_you_mean(name, known)}"))
    return problems


def _duplicates(path: PathTuple, names: tuple[str, ...]) -> list[Problem]:
    seen: set[str] = set()
    problems: list[Problem] = []
    for index, name in enumerate(names):
        if name in seen:
            problems.append(((*path, index), f"'{name}' is listed twice"))
        seen.add(name)
    return problems


def _under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)
