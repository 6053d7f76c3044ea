"""The spec language: what a user writes about their platform, in their own words.

Every model is frozen and forbids unknown keys. Every default sits beside its field with
the reason for it, and every default can be overridden. Checks that need the whole
platform (references, unique ports) live in `Platform`'s validator, so a `Platform`
that exists is a valid one.

"The seed", here and across the code, is the DevOps guide whose snippets bizinfra's first spec
describes (the business app: five NestJS services, PostgreSQL, Redis, EKS); a default marked
"seed: X" is the value that guide used, kept unless a comment says why it was changed.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
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
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bizinfra.naming import (
    AWS_VARIABLES,
    BOOTSTRAP_STACK,
    ECR,
    LOG_RETENTION_DAYS,
    NULL_RECEIVER,
    REGISTRY_SECRET,
    RESERVED_DATABASE_NAMES,
    RESERVED_DATABASE_PREFIXES,
    aws_partition,
    bucket_variable,
    connection_url_variables,
    service_url_variable,
    tls_servername_variable,
)
from bizinfra.nodes import node_types
from bizinfra.spec import quantities
from bizinfra.spec.base import Frozen
from bizinfra.spec.node import node_version_problem
from bizinfra.spec.patches import Patch
from bizinfra.spec.storage import RESERVED_BUCKETS, Bucket, EgressTarget, egress_target
from bizinfra.spec.text import PathTuple, Vocabulary, did_you_mean, dotted

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


def _known_node_type(name: str) -> str:
    """The capacity check needs the type's pod limit, CPU and memory: only the vendored types are accepted."""
    known = node_types()
    if name not in known:
        raise PydanticCustomError(
            "node_type", "'{name}' is not an instance type whose pod limit, CPU and memory bizinfra knows (families "
            "{families}){hint}", {"name": name, "hint": did_you_mean(name, known),
                                  "families": ", ".join(sorted({known_name.split(".")[0] for known_name in known}))})
    return name


InstanceType = Annotated[StrictStr, StringConstraints(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"),
                         AfterValidator(_known_node_type)]
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


_CRON_MONTHS = {name: number for number, name in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
_CRON_DAYS = {name: number for number, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
# The standard five fields as Velero's parser (robfig/cron) reads them: it has no day 7 for Sunday.
_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
    ("month", 1, 12, _CRON_MONTHS), ("day of week", 0, 6, _CRON_DAYS))


def _cron(text: str) -> str:
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"'{text}' is not a five-field cron schedule such as '0 2 * * *'")
    for value, (what, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for item in value.split(","):
            problem = _cron_item(item, low, high, names)
            if problem:
                raise ValueError(f"'{text}' is not a valid cron schedule: {what} '{value}' {problem}")
    return " ".join(fields)


def _cron_item(item: str, low: int, high: int, names: dict[str, int]) -> str | None:
    """What is wrong with one item of a field (`*`, `5`, `1-5`, `*/15`, `MON-FRI`), or None."""
    span, slash, step = item.partition("/")
    if slash and not (re.fullmatch(r"[0-9]{1,2}", step) and 1 <= int(step) <= high):
        return f"has the step '{step}'; a step is a whole number from 1 to {high}"
    if span == "*":
        return None
    first, dash, last = span.partition("-")
    start, end = _cron_value(first, names), _cron_value(last if dash else first, names)
    if start is None or end is None:
        kinds = "numbers or names such as " + ", ".join(list(names)[:2]) if names else "numbers"
        return f"must be {kinds}, '*', ranges a-b, steps /n or lists of these"
    if not low <= start <= end <= high:
        return f"must lie within {low}-{high}, ranges low to high"
    return None


def _cron_value(text: str, names: dict[str, int]) -> int | None:
    if re.fullmatch(r"[0-9]{1,2}", text):
        return int(text)
    return names.get(text.upper())


def _command(text: str) -> str:
    """A delivery command goes into a workflow's `run:` step (and a pod's shell) as written: one line of shell
    with balanced quotes, and no `${{`, which GitHub would expand before the shell sees it."""
    if not text.strip() or not _ONE_LINE_TEXT.fullmatch(text):
        raise ValueError("a command must be one non-empty line of text; join several with &&")
    if "${{" in text:
        raise ValueError("a command must not contain '${{': GitHub Actions would expand it before the shell runs")
    try:
        shlex.split(text)
    except ValueError as error:  # "No closing quotation", "No escaped character"
        raise ValueError(f"the shell cannot read this command: {str(error).lower()}") from None
    return text


_ONE_LINE_TEXT = re.compile(r"[^\x00-\x1F\x7F-\x9F\u2028\u2029]{1,500}")
Command = Annotated[StrictStr, AfterValidator(_command)]


def _node_version(text: str) -> str:
    problem = node_version_problem(text)
    if problem:
        raise ValueError(problem)
    return text


NodeVersion = Annotated[StrictStr, StringConstraints(pattern=r"^\d+(\.\d+){0,2}$"), AfterValidator(_node_version)]


def _relative_folder(text: str) -> str:
    parts = text.split("/")
    if text.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError("expected a folder relative to the repository root, such as dist/apps/web, with no "
                         "'.', '..' or empty parts")
    return text


RelativeFolder = Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9._@/-]{1,200}$"),
                           AfterValidator(_relative_folder)]


# A pip requirement for bizinfra itself, pinned to one build: another version may generate other bytes, and then
# CI's `bizinfra check` fails on files that are right. PEP 508's shape, narrowed to what pins one build.
_REQUIREMENT = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[(?P<extras>[^\]]*)\])?\s*(?P<rest>.*)")
_EXTRA = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_EXACT_VERSION = re.compile(r"===?\s*[0-9][0-9A-Za-z.+!-]*")
_PINNED_URL = re.compile(r"@\s*(?:git\+https://[^\s@#]+@[^\s@#/]+(?:#\S*)?|https://\S+\.(?:whl|tar\.gz|zip))")
REQUIREMENT_EXAMPLES = ("bizinfra[validate]==0.3.0", "bizinfra[validate] @ git+https://github.com/<org>/bizinfra@<commit>")


def requirement_problem(text: str) -> str | None:
    """What is wrong with `text` as the pip requirement CI installs bizinfra by; None when it pins one build of
    bizinfra with the `validate` extra (the infrastructure workflow runs `bizinfra validate`)."""
    examples = f"'{REQUIREMENT_EXAMPLES[0]}' or '{REQUIREMENT_EXAMPLES[1]}'"
    match = _REQUIREMENT.fullmatch(text.strip()) if _ONE_LINE_TEXT.fullmatch(text) and "${{" not in text else None
    if not match:
        return f"expected one line naming bizinfra pinned to one build, such as {examples}"
    if re.sub(r"[-_.]+", "-", match["name"]).lower() != "bizinfra":
        return f"this requirement installs '{match['name']}', not bizinfra; write {examples}"
    extras = [extra.strip() for extra in (match["extras"] or "").split(",") if extra.strip()]
    if not all(_EXTRA.fullmatch(extra) for extra in extras):
        return f"the extras '[{match['extras']}]' are not a list of names; write {examples}"
    if "validate" not in extras:
        return ("add the validate extra ('bizinfra[validate]...'): the infrastructure workflow runs `bizinfra "
                "validate`, whose judges it brings")
    rest = match["rest"].strip()
    if not (_EXACT_VERSION.fullmatch(rest) or _PINNED_URL.fullmatch(rest)):
        return (f"{repr(rest) if rest else 'no version'} does not pin one build: use ==<version>, or @ "
                "git+https://...@<commit> (or an https archive); another version may generate other files and fail "
                "`bizinfra check`")
    return None


def _bizinfra_requirement(text: str) -> str:
    problem = requirement_problem(text)
    if problem:
        raise PydanticCustomError("bizinfra_requirement", "{problem}", {"problem": problem})
    return text


BizinfraRequirement = Annotated[StrictStr, AfterValidator(_bizinfra_requirement)]


_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?"
_REPOSITORY = re.compile(rf"(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*")


def _repository(text: str) -> str:
    """An image repository, or a registry path, with no tag or digest: the release sets the tag."""
    if text == "" or (len(text) <= 255 and _REPOSITORY.fullmatch(text)):
        return text
    bare, _, _ = text.partition("@")
    head, slash, last = bare.rpartition("/")
    if "@" in text or ":" in last:
        bare = head + slash + last.partition(":")[0]
        raise PydanticCustomError(
            "image_tag", "'{text}' has a tag or digest; write the repository alone ('{bare}'): each release "
            "sets the tag", {"text": text, "bare": bare})
    raise PydanticCustomError(
        "repository", "'{text}' is not an image repository such as ghcr.io/acme/shop (lower-case path, at "
        "most 255 characters)", {"text": text})


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
Cron = Annotated[StrictStr, AfterValidator(_cron), Field(
    description="A five-field cron schedule, e.g. '0 2 * * *': minute 0-59, hour 0-23, day of month 1-31, month "
    "1-12 or JAN-DEC, day of week 0-6 or SUN-SAT; each a value, '*', a range a-b, a step /n, or a list of these.")]
Repository = Annotated[StrictStr, AfterValidator(_repository)]


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


def probe_path(answers: str) -> Any:
    """A probe's path: unset, it is the service's `health`."""
    return Field(None, description=f"Answers 200 {answers} Default: health.")


class Probes(Frozen):
    """The paths the cluster asks a service about itself, each defaulting to its `health`. Kubernetes uses all three;
    compose's healthcheck and the load balancer's target health ask `readiness`."""

    startup: HttpPath | None = probe_path(
        "once the service has started; until then the other two are not asked (up to 60 s).")
    readiness: HttpPath | None = probe_path(
        "while the service can serve: it may check what the service needs (its database, its cache), so a pod that "
        "cannot reach them gets no traffic.")
    liveness: HttpPath | None = probe_path(
        "unless the process is stuck and must be restarted. It must not check dependencies: a database outage would "
        "restart every pod at once.")


def build_setting(description: str, default: str) -> Any:
    """A build setting: unset, the plan takes `default` (the delivery's setting or the stock Nx layout's)."""
    return Field(None, description=f"{description} Default {default}")


class Build(Frozen):
    """How a service's image is built, where it is not the workspace's default (a Next.js front end, another Node
    line). Every field falls back to the delivery's setting or to the stock Nx layout, so a NestJS app of the
    workspace needs none of them."""

    project: Name | None = build_setting("The Nx project the image is built from.", "the service's name.")
    node_version: NodeVersion | None = build_setting(
        "Node.js version of the image: a major line (pinned to its newest release bizinfra knows) or a full release "
        "such as 22.23.3.", "delivery.node_version.")
    install: Command | None = build_setting(
        "Installs the dependencies in the image, from the whole repository.", "delivery.install.")
    command: Command | None = build_setting(
        "Builds the service.", "`npx nx build <project>`: a stock Nx build target builds for production by default "
        "(the webpack plugin's node-env, or the executor's defaultConfiguration).")
    output: RelativeFolder | None = build_setting(
        "The folder the build writes, relative to the repository root; the image holds it as dist/.",
        "dist/apps/<project> (Nx's layout).")
    prune: Command | None = build_setting(
        "Drops the development dependencies once the build is done; the image keeps what is left of node_modules.",
        "by the install's package manager: `npm prune --omit=dev`, `pnpm prune --prod`, `yarn workspaces focus "
        "--all --production`.")
    start: Command | None = build_setting(
        "Starts the server in the image, from its /app folder (the output is dist/), under tini so that SIGTERM "
        "reaches it at once.", "`node dist/main.js`; a Next.js standalone build: `node dist/server.js`.")


# A web service's port when the spec names none.
DEFAULT_PORT = 8080
KINDS = ("web", "worker", "cron")


class Job(Frozen):
    """How a cron job's runs behave (Kubernetes CronJob and Job settings, in the spec's words)."""

    concurrency: Literal["forbid", "allow", "replace"] = Field(
        "forbid", description="What happens when a run is due while the last one still runs: forbid (skip the new "
        "one; default: a job that overlaps itself usually does its work twice), allow, or replace (stop the old one).")
    timeout: Duration = Field("1h", description="A run still going after this long is stopped and counts as failed.")
    start_within: Duration = Field(
        "10m", description="A run that could not start within this long of its time (the cluster was busy or down) "
        "is skipped and counts as missed.")
    keep_succeeded: StrictInt = Field(3, ge=0, le=100, description="Finished successful runs kept to read their logs.")
    keep_failed: StrictInt = Field(3, ge=0, le=100, description="Failed runs kept to read their logs.")


class Service(Frozen):
    kind: Literal["web", "worker", "cron"] = Field(
        "web", description="web: serves requests on its port (default); worker: a long-running process that listens "
        "to no requests (no Service, no HTTP probes, scaled on CPU); cron: a job run on `schedule`.")
    port: Port | None = Field(
        None, description="The port the service listens on, everywhere: container, Service, compose. Default 8080 "
        "for a web service; a worker has one only when it serves metrics (Prometheus scrapes `metrics` there and "
        "its liveness check reads it); a cron job has none.")
    health_command: Command | None = Field(
        None, description="A worker's liveness check, a shell command in its container that exits 0 while it is "
        "healthy; without it a worker with a port is checked by a GET of its metrics path.")
    schedule: Cron | None = Field(None, description="A cron job's schedule, five-field cron in UTC, e.g. '0 3 * * *'.")
    job: Job = Field(default_factory=Job, description="A cron job's concurrency, timeout and kept runs.")
    image: Repository | None = Field(None, description="The image repository, without a tag (each release sets "
                                     "the tag); default `<registry>/<service>`.")
    replicas: ScaleSpec = Field(default_factory=lambda: Scale(min=2, max=2),
                                description="Copies to run: a number, or min and max for autoscaling. "
                                "Default 2, so that one copy can be lost without downtime.")
    resources: Resources = Field(default_factory=Resources)
    health: HttpPath = Field("/health", description="The HTTP path that answers 200 when the service is healthy: "
                             "every probe's, unless `probes` names another.")
    probes: Probes = Field(default_factory=Probes, description="Separate startup, readiness and liveness paths.")
    metrics: HttpPath = Field("/metrics", description="The HTTP path Prometheus scrapes on the service port.")
    public: Public | None = Field(None, description="Set when the service is reachable from the internet.")
    calls: tuple[Name, ...] = Field((), description="The services this one sends requests to.")
    uses: tuple[Name, ...] = Field((), description="The data stores and buckets (`storage:`) this one reads and "
                                   "writes.")
    egress: tuple[EgressTarget, ...] = Field(
        (), description="What it calls outside the platform: external hosts (api.stripe.com for HTTPS on 443, "
        "smtp.sendgrid.net:587 for another port) and AWS services by endpoint name (sqs, secretsmanager; s3 is "
        "implied by a bucket in uses). Its network policy allows exactly these ports outside the private ranges.")
    secrets: tuple[EnvName, ...] = Field(
        (), description="Secret environment variables, by name; values live in the secret store.")
    env: dict[EnvName, StrictStr] = Field(default_factory=dict, description="Plain (non-secret) environment variables.")
    database: Annotated[StrictStr, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")] | None = Field(
        None, description="Its PostgreSQL database name, which in the cloud also names the role owning it (and only "
        "it); default the service name with '_' for '-'. Not a name PostgreSQL or RDS keeps for a role (postgres, "
        "exporter, endpoint, rdsadmin, template0, template1, pg_*, rds*).")
    build: Build = Field(default_factory=Build, description="How its image is built, where it differs from the "
                         "workspace's default (delivery's Node version and install, the Nx layout).")
    command: tuple[Annotated[StrictStr, StringConstraints(min_length=1, max_length=500)], ...] | None = Field(
        None, min_length=1, description="Runs the container with this command line instead of the image's start "
        "(build.start), in exec form: [node, dist/main.js, --mode, api]. In Kubernetes it is the container's `args`, so "
        "tini stays PID 1 and passes SIGTERM on; in compose, the service's `command`. Default unset: the image's.")

    @model_validator(mode="before")
    @classmethod
    def _web_listens(cls, data: Any) -> Any:
        """A web service always has a port: 8080 unless it says otherwise."""
        if isinstance(data, dict) and data.get("kind", "web") == "web" and data.get("port") is None:
            return {**data, "port": DEFAULT_PORT}
        return data


class Datastore(Frozen):
    engine: Literal["postgres", "redis"]
    version: Annotated[StrictStr, StringConstraints(pattern=r"^(0|[1-9]\d{0,3})(\.(0|[1-9]\d{0,3}))?$")] = Field(
        description="Engine version, major or major.minor without leading zeros, e.g. '15' or '7.1'.")
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


def _public_network(cidr: str) -> str:
    try:
        network = ipaddress.IPv4Network(cidr)
    except ValueError as error:
        raise PydanticCustomError("cidr", "'{cidr}' is not an IPv4 network (address/prefix, no host bits): {error}",
                                  {"cidr": cidr, "error": str(error)}) from None
    if not network.is_global and network.prefixlen > 0:  # EKS refuses reserved blocks
        raise PydanticCustomError(
            "reserved_cidr", "'{cidr}' is not a public network: the public endpoint sees callers' public addresses "
            "(EKS refuses reserved blocks), and the VPC reaches the private endpoint anyway", {"cidr": cidr})
    return str(network)


PublicNetwork = Annotated[StrictStr, AfterValidator(_public_network)]


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


# What the backups can promise, the floors an RPO or RTO is checked against (docs/recovery.md):
# RDS uploads a database's transaction logs every 5 minutes, so a point-in-time restore reaches about 5 minutes ago;
# a second region adds the copy: S3 Replication Time Control replicates 99.99% of objects within 15 minutes (its
# SLA), and RDS copies snapshots and logs to the other region as soon as they are ready. A point-in-time restore
# builds a new instance from a snapshot and replays the logs: tens of minutes for the default 100 GiB.
POINT_IN_TIME_RPO = "5m"
CROSS_REGION_RPO = "15m"
RESTORE_RTO = "30m"
# A pilot-light standby (no nodes) is brought up by the region-failover runbook: nodes from zero, the database
# restored from its replicated backups, add-ons and a deploy. Below this RTO the standby keeps nodes running.
PILOT_LIGHT_RTO = "2h"


def _shorter_than(path: PathTuple, text: str, floor: str, why: str) -> list[Problem]:
    if quantities.seconds(text) < quantities.seconds(floor):
        return [(path, f"{text} is shorter than the {floor} {why}")]
    return []


class Recovery(Frozen):
    """How much data an environment may lose and how long it may be down after a disaster, and the second region it
    recovers in. Everything the backups and the standby do is derived from these."""

    rpo: Duration | None = Field(
        None, description="Recovery point objective: the most recent data a restore may lose, for what only the "
        "backups hold: the PostgreSQL databases (point-in-time recovery) and the backup bucket. Redis is a cache and "
        "the Kubernetes objects are rebuilt from git, so neither counts. At least 5m (RDS uploads transaction logs "
        "every 5 minutes), 15m with a second region (S3 Replication Time Control). Default 1h in production, 24h "
        "elsewhere.")
    rto: Duration | None = Field(
        None, description="Recovery time objective: how long a restore may take, at least 30m (a point-in-time "
        "restore builds a new database instance). With a second region, an RTO of 2h or more keeps the standby a "
        "pilot light (its cluster has no nodes until the failover runbook scales it up); a shorter one keeps its "
        "nodes running. Default 4h in production, 24h elsewhere.")
    region: Region | None = Field(
        None, description="The second AWS region to recover in. When set, the database's automated backups and the "
        "backup bucket are replicated there, under a KMS key of that region, and a standby stack "
        "(`terraform/<env>/standby/`: network, cluster, the database's restore path) is generated for it. Default "
        "none: a second region costs money and cannot be guessed.")

    def problems(self, path: PathTuple, main_region: str | None) -> list[Problem]:
        """What the backups cannot meet, at the field that asks for it, with the numbers."""
        problems: list[Problem] = []
        if self.region and self.region == main_region:
            problems.append(((*path, "region"), f"'{self.region}' is the platform's own region; name another one"))
        elif self.region and main_region and aws_partition(self.region) != aws_partition(main_region):
            problems.append(((*path, "region"), f"'{self.region}' is in another AWS partition than '{main_region}'; "
                             "backups cannot be replicated across partitions"))
        if self.rpo is not None:
            floor, why = (CROSS_REGION_RPO, f"the backups can meet in a second region ({self.region}): S3 Replication "
                          "Time Control replicates within 15 minutes") if self.region else \
                (POINT_IN_TIME_RPO, "the backups can meet: RDS uploads transaction logs every 5 minutes")
            problems += _shorter_than((*path, "rpo"), self.rpo, floor, why)
        if self.rto is not None:
            problems += _shorter_than((*path, "rto"), self.rto, RESTORE_RTO,
                                      "a restore needs: a point-in-time restore builds a new database instance")
        return problems


def default_recovery(production: bool) -> tuple[str, str]:
    """(rpo, rto) when the spec says nothing: production loses at most an hour and is back within four (a business
    day's morning); elsewhere the data is test data, and a day either way is enough."""
    return ("1h", "4h") if production else ("24h", "24h")


class Environment(Frozen):
    runs_on: Literal["compose", "kubernetes"] = Field("kubernetes", description="Where it runs.")
    production: StrictBool | None = Field(
        None, description="The live environment; default true only for the one named production.")
    branch: GitBranch | None = Field(None, description="The git branch whose pushes deploy here.")
    nodes: ScaleSpec = Field(
        default_factory=lambda: Scale(min=1, max=5),
        description="Kubernetes node count: a number, or min and max between which the cluster autoscaler moves it. "
        "The loader refuses a count whose nodes.max cannot hold the pods at the peak of a release (every service at "
        "its minimum plus the rollout's surge, exporters, bootstrap Jobs and the add-ons, DaemonSets on every node) "
        "within the node type's pod limit, CPU and memory. Default 1 to 5; production 3 to 8.")
    sizes: Sizes = Field(default_factory=Sizes)
    highly_available: StrictBool = Field(False, description="Multi-AZ database, cache failover, a NAT gateway per zone.")
    rollout: Literal["rolling", "blue-green"] = Field("rolling", description="How new versions replace old ones.")
    env: dict[EnvName, StrictStr] = Field(default_factory=dict, description="Variables every service gets here.")
    services: dict[Name, ServiceOverride] = Field(default_factory=dict, description="Per-service changes.")
    spot: StrictBool | None = Field(
        None, description="Run the Kubernetes nodes on EC2 Spot capacity. Default: on outside production, off in "
        "production, as the seed's cost tips suggest: Spot costs up to 90% less, and an interruption (two minutes' "
        "notice) is acceptable where nobody is served, not where customers are.")
    api_access: list[PublicNetwork] | None = Field(
        None, description="The networks (IPv4 CIDRs) the Kubernetes API's public endpoint answers; the "
        "private endpoint always answers inside the VPC. `[]` turns the public endpoint off: then CI needs runners "
        "inside the VPC (self-hosted). A list limits it to your offices and fixed-address runners. Default unset: "
        "public from anywhere, because the generated workflows run on GitHub-hosted runners, which have no fixed "
        "addresses (GitHub's meta API lists thousands of ranges, changing weekly); every request still needs an IAM "
        "identity the cluster's access entries admit. Declare it in production once your runners have fixed "
        "addresses.")
    recovery: Recovery = Field(
        default_factory=Recovery, description="Recovery objectives (`rpo`, `rto`) and the second `region`, per "
        "environment: production and staging are worth different amounts of money and downtime.")

    @model_validator(mode="after")
    def _compose_is_simple(self) -> Environment:
        if self.runs_on == "compose" and self.rollout != "rolling":
            raise PydanticCustomError("compose_rollout", "blue-green rollout needs runs_on: kubernetes", {})
        return self


def default_environments() -> dict[str, Environment]:
    """The seed's environment table: compose for development, staging from one node, production from three; both
    autoscale, as far as a release's peak needs for a small platform (the loader checks it for the spec's)."""
    return {
        "development": Environment(runs_on="compose"),
        "staging": Environment(branch="develop"),
        # Three nodes, one per zone, and room to grow: blue-green runs a second slot beside the live one.
        "production": Environment(branch="main", nodes=Scale(min=3, max=8), highly_available=True),
    }


# The paging burn-rate alert fires when errors spend the budget 6x as fast as the SLO allows (the SRE workbook's
# 6h/30m pair); below this availability even a total outage burns it slower, so the page could never fire.
LOWEST_AVAILABILITY = 90.0


def _reachable_slo(availability: float) -> float:
    if availability < LOWEST_AVAILABILITY:
        raise PydanticCustomError(
            "availability", "must be at least {lowest}% (got {got}%): the paging alert fires when errors spend the "
            "error budget 6 times as fast as the SLO allows, and below about 84% not even every request failing "
            "does that", {"lowest": LOWEST_AVAILABILITY, "got": availability})
    return availability


# The monitoring stack the day-one issue installs: the kube-prometheus-stack Helm chart (prometheus-community), whose
# values.yaml makes Prometheus select PrometheusRules and PodMonitors labelled `release: <release name>`
# (`prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues` and `podMonitorSelectorNilUsesHelmValues` default to
# true) in every namespace (`ruleNamespaceSelector`, `podMonitorNamespaceSelector` default to `{}`), and runs its
# pods, Prometheus and Grafana with its dashboard sidecar, in the namespace the chart is installed in.
KubeName = Annotated[StrictStr, StringConstraints(max_length=53, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]


class MonitoringStack(Frozen):
    """Where the Prometheus Operator stack runs and what it selects by: the Kubernetes target labels its
    PrometheusRule and PodMonitors for it, puts the dashboard where Grafana's sidecar looks, and lets its
    namespace scrape the services."""

    namespace: KubeName = Field(
        "monitoring", description="The namespace the kube-prometheus-stack Helm chart is installed in: its Prometheus "
        "scrapes from there and its Grafana dashboard sidecar watches ConfigMaps labelled `grafana_dashboard: \"1\"` "
        "there (the chart's `sidecar.dashboards.searchNamespace` default). Default monitoring.")
    release: KubeName = Field(
        "kube-prometheus-stack", description="The chart's Helm release name: with the chart's defaults "
        "(`ruleSelectorNilUsesHelmValues`, `podMonitorSelectorNilUsesHelmValues`: true) Prometheus loads only "
        "PrometheusRules and PodMonitors labelled `release: <release>`. Default kube-prometheus-stack.")


EmailAddress = Annotated[StrictStr, StringConstraints(
    max_length=254, pattern=r"^[^@\s]+@([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")]
SmartHost = Annotated[StrictStr, StringConstraints(pattern=r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}:\d{1,5}$")]
SlackChannel = Annotated[StrictStr, StringConstraints(pattern=r"^#[a-z0-9][a-z0-9._-]{0,79}$")]
ReceiverName = Annotated[StrictStr, StringConstraints(max_length=40, pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$")]
_RECEIVER_FIELDS = {"slack": {"channel"}, "pagerduty": set(), "webhook": set(), "email": {"to", "sender", "smarthost"}}


class Receiver(Frozen):
    """Somewhere alerts go. What would let anyone post there (a webhook URL, a routing key, an SMTP password) is
    never in the spec: each environment reads it from its Secrets Manager secret `<platform>/<env>/alerting/<name>`
    (key `url` for slack and webhook, `routing_key` for pagerduty, `password` for email), stored once by a human."""

    kind: Literal["slack", "pagerduty", "email", "webhook"] = Field(description="The kind of receiver.")
    channel: SlackChannel | None = Field(None, description="slack: the channel, e.g. #business-app-alerts.")
    to: EmailAddress | None = Field(None, description="email: the address alerts are sent to.")
    sender: EmailAddress | None = Field(None, description="email: the From address.")
    smarthost: SmartHost | None = Field(None, description="email: the SMTP server as host:port, e.g. "
                                        "email-smtp.ap-south-1.amazonaws.com:587.")

    @model_validator(mode="after")
    def _fields_of_its_kind(self) -> Receiver:
        wanted = _RECEIVER_FIELDS[self.kind]
        given = {name for name in ("channel", "to", "sender", "smarthost") if getattr(self, name) is not None}
        if given - wanted or wanted - given:
            needs = ", ".join(sorted(wanted)) or "none of channel, to, sender, smarthost"
            raise PydanticCustomError("receiver", "a {kind} receiver takes {needs} (got {given})",
                                      {"kind": self.kind, "needs": needs, "given": ", ".join(sorted(given)) or "none"})
        return self


class Monitoring(Frozen):
    availability: Annotated[Percent, AfterValidator(_reachable_slo)] = Field(
        99.9, description="The availability SLO, in percent, at least 90 (seed: 99.9).")
    latency_p95: Duration = Field("1s", description="Alert when the 95th percentile latency is above this (seed: 1s).")
    error_rate: Percent = Field(5.0, description="Alert when this share of requests fail (seed: 5%).")
    runbooks: Annotated[StrictStr, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\s{}]+$")] | None = Field(
        None, description="Where the alert runbooks are: alert X links to `<runbooks>/x.md`. Default "
        "`generated/<platform>/docs/runbooks`, the pages bizinfra generates, relative to the repository root; set "
        "their full URL (e.g. https://github.com/acme/business/blob/main/generated/business-app/docs/runbooks) for "
        "clickable links.")
    stack: MonitoringStack = Field(default_factory=MonitoringStack, description="The Prometheus Operator stack "
                                   "that loads the rules, scrape targets and dashboard (kube-prometheus-stack).")
    receivers: dict[ReceiverName, Receiver] = Field(
        default_factory=dict, description="Where alerts can go, by name. Default none: alerts then reach nobody, "
        "and `bizinfra doctor` says so.")
    pages: tuple[ReceiverName, ...] = Field(
        (), description="Receivers of pages: critical alerts (fast error-budget burn, a service down) that wake "
        "someone.")
    tickets: tuple[ReceiverName, ...] = Field(
        (), description="Receivers of tickets: warnings (slow burn, latency) handled in working hours.")
    heartbeat: ReceiverName | None = Field(
        None, description="A webhook receiver of the always-firing Watchdog alert: a dead man's switch service "
        "(e.g. healthchecks.io) that pages when the heartbeat stops, because then alerting itself is down.")

    @model_validator(mode="after")
    def _routes_name_receivers(self) -> Monitoring:
        if NULL_RECEIVER in self.receivers:
            raise PydanticCustomError("receiver", "receiver name '{name}' is taken: it is Alertmanager's receiver that "
                                      "drops the alerts no route sends elsewhere; name this receiver otherwise",
                                      {"name": NULL_RECEIVER})
        for field, names in (("pages", self.pages), ("tickets", self.tickets),
                             ("heartbeat", (self.heartbeat,) if self.heartbeat else ())):
            for name in names:
                if name not in self.receivers:
                    known = ", ".join(sorted(self.receivers)) or "none are declared"
                    raise PydanticCustomError("receiver", "{field} names receiver '{name}', which monitoring.receivers "
                                              "does not declare ({known})",
                                              {"field": field, "name": name, "known": known})
        if self.heartbeat and self.receivers[self.heartbeat].kind != "webhook":
            raise PydanticCustomError("receiver", "heartbeat needs a webhook receiver (a dead man's switch URL), "
                                      "not {kind}", {"kind": self.receivers[self.heartbeat].kind})
        return self


class Backups(Frozen):
    schedule: Cron = Field(
        "0 2 * * *", description="When backups run, in UTC (seed: daily at 02:00): Velero's schedule, and AWS "
        "Backup's database snapshots at the first minute of it (AWS Backup runs at most hourly).")
    keep: Duration = Field("30d", description="How long backups are kept (seed: 30 days).")


def _log_retention(keep: str) -> str:
    days = quantities.seconds(keep) / 86400
    if not 1 <= days <= LOG_RETENTION_DAYS[-1]:
        raise PydanticCustomError("logs", "must be between 1d and {most}d, what CloudWatch Logs keeps (got {keep})",
                                  {"most": LOG_RETENTION_DAYS[-1], "keep": keep})
    return keep


class Logs(Frozen):
    """Where the containers' output goes: CloudWatch Logs, through Fluent Bit, and for how long."""

    keep: Annotated[Duration, AfterValidator(_log_retention)] = Field(
        "30d", description="How long CloudWatch Logs keeps the containers' logs (application, node and host "
        "groups), rounded up to the next retention CloudWatch accepts (1, 3, 5, 7, 14, 30, 60, 90 ... 3653 days). "
        "Default 30d: it covers the 30-day error budget window and the default backup retention, while logs "
        "that often hold personal data do not outlive their use. The control plane's audit trail keeps the "
        "stack's `log_retention_days` variable instead (365 days).")


class Delivery(Frozen):
    """How the services are built, tested and migrated in CI: the commands of the application's own repository."""

    node_version: NodeVersion = Field(
        "24", description="Node.js version CI installs and images are built from: a major line (the image pins its "
        "newest release bizinfra knows) or a full release. Default 24, the Active LTS line; the seed's 20 reached "
        "its end of life on 2026-04-30.")
    install: Command = Field("npm ci", description="Installs dependencies from the lockfile (seed: npm ci).")
    # A stock Nx workspace (create-nx-workspace --preset=nest) has no lint or test script in its root package.json:
    # its projects get `lint` and `test` targets from the @nx/eslint and @nx/jest plugins in nx.json, which
    # `nx run-many` runs for every project. The seed's `npm run lint` failed there.
    lint: Command = Field("npx nx run-many -t lint", description="The lint command. Default every Nx project's lint "
                          "target, which a stock Nx workspace defines (seed: npm run lint, a script it has not).")
    test: Command = Field("npx nx run-many -t test --coverage", description="The test command; it writes coverage/ "
                          "(Nx's jest projects write coverage/<project folder>). Default every Nx project's test "
                          "target with coverage (seed: npm test -- --coverage).")
    migrate: Command = Field("npx prisma migrate deploy", description="Applies pending database migrations: the "
                               "service's migration Job runs it in the release's migration image (the Dockerfile's "
                               "`migrate` stage) before every deploy moves traffic, and the migration workflow on "
                               "demand (seed: npx prisma migrate deploy).")
    rollback: Command = Field("npm run migrate:rollback", description="Undoes the latest migration: the service's "
                                "rollback Job runs it in the live release's migration image when the migration "
                                "workflow is run with `rollback` (docs/github.md has the procedure). Default a "
                                "package.json script the application defines (`bizinfra doctor` checks it): the seed's "
                                "`prisma migrate reset --force` drops every table, which no rollback should do.")
    repository: Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$")] | None = Field(
        None, description="The GitHub repository (owner/name) whose workflows deploy. Default unset, since "
        "it cannot be guessed; when set, each deploy role trusts only that repository's jobs in the matching "
        "GitHub environment (OIDC subject `repo:<owner>/<name>:environment:<env>`).")
    bizinfra: BizinfraRequirement | None = Field(
        None, description="The pip requirement CI installs bizinfra by, pinned to one build with the validate extra: "
        "'bizinfra[validate]==0.3.0' from an index, or 'bizinfra[validate] @ git+https://github.com/<org>/bizinfra@"
        "<commit>'. Default unset: CI installs `requirements-bizinfra.txt` at the repository's root (`pip install "
        "-r`), which `bizinfra init` writes from where the running bizinfra was installed and `bizinfra doctor` "
        "checks; it is where Dependabot and Renovate look for a version to bump.")
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

# Names people give a live environment. One so named must say `production: true` or `false`: guessing
# either way is a surprise, a production without its safeguards or a test cluster treated as live.
_LOOKS_LIVE = {"prod", "prd", "production", "live"}


class Platform(Frozen):
    """One business application: its services, data stores, environments and goals."""

    model_config = ConfigDict(title="bizinfra platform")

    name: PlatformName = Field(description="The platform's name; prefixes every resource.")
    domain: Hostname = Field(description="The DNS domain the public hosts live under.")
    region: Region = Field("us-east-1", description="The AWS region.")
    registry: Repository = Field(
        "", description="Where images are pushed, without a tag; default ghcr.io/<name>. Any registry but ECR needs a "
        "read-only token a person stores once in Secrets Manager (`<platform>/<env>/registry`, keys `username` and "
        "`token`), which the pods pull with. `ecr`: Amazon ECR in the stack's account, one repository "
        "`<name>/<service>` per service (made by the stack that makes the GitHub OIDC provider), pushed to by CI "
        "through OIDC and pulled by the nodes' role, no token to store.")
    network: Network = Field(default_factory=Network)
    services: dict[Name, Service] = Field(min_length=1)
    datastores: dict[ShortName, Datastore] = Field(default_factory=dict)
    storage: dict[ShortName, Bucket] = Field(
        default_factory=dict, description="Application buckets (S3), by name; a service that lists one in `uses` "
        "may read and write it and gets `<NAME>_BUCKET`. Names `backups` and `logs` are the platform's own.")
    environments: dict[ShortName, Environment] = Field(
        default_factory=default_environments, min_length=1,
        description="Where the platform runs. Default development (compose), staging (from develop) and production "
        "(from main, 3 to 8 nodes, highly available). An environment declared with one of those names starts from that "
        "one's settings but its branch, and what it states wins. Named like production (prod, prd, live, ...) it must say "
        "`production: true` or `false`.")
    monitoring: Monitoring = Field(default_factory=Monitoring)
    backups: Backups = Field(default_factory=Backups)
    logs: Logs = Field(default_factory=Logs, description="Container logs in CloudWatch Logs: how long they are kept.")
    delivery: Delivery = Field(default_factory=Delivery, description="CI/CD commands and how actions are pinned.")
    edge: Edge = Field(default_factory=Edge, description="DNS zone, CDN and firewall in front of the public hosts.")
    patches: tuple[Patch, ...] = Field((), description="Edits to generated documents, applied last: the escape hatch.")

    @model_validator(mode="before")
    @classmethod
    def _environments_start_from_defaults(cls, data: Any) -> Any:
        return with_default_environment_settings(data)

    @model_validator(mode="after")
    def _consistent(self) -> Platform:
        problems = _Parts(self.name, self.domain, self.services, self.datastores, self.environments,
                          region=self.region, buckets=frozenset(self.storage)).problems()
        problems += _registry_problems(self.registry, self.services, self.delivery)
        if problems:
            summary = "\n".join(f"{dotted(path)}: {message}" for path, message in problems)
            raise PydanticCustomError("platform", "{summary}", {"summary": summary, "problems": tuple(problems)})
        return self

    def is_production(self, environment: str) -> bool:
        return _is_production(environment, self.environments[environment])

    def datastore_port(self, name: str) -> int:
        return _store_port(self.datastores[name])

    def env_prefix(self, name: str) -> str:
        return _store_prefix(self.datastores[name])


def _registry_problems(registry: str, services: Mapping[str, Service], delivery: Delivery) -> list[Problem]:
    """With ECR, Terraform creates each service's repository (an image of the service's own is somewhere else), and
    the role CI pushes with trusts only the named repository's build jobs."""
    if registry != ECR:
        return []
    problems: list[Problem] = []
    if delivery.repository is None:
        problems.append((("registry",), "with registry 'ecr' CI pushes by OIDC to a role that trusts one GitHub "
                         "repository: set delivery.repository (owner/name)"))
    return problems + [(("services", name, "image"), "with registry 'ecr' each service's image is its ECR repository "
             f"('<platform>/{name}'); remove image, or name the registry it is in")
            for name, service in sorted(services.items()) if service.image]


def with_default_environment_settings(data: Any) -> Any:
    """Declared `development`, `staging` or `production` environments start from the default ones' settings.

    Declaring `production: {rollout: blue-green}` must not silently drop production's three nodes and high
    availability. The branch is not carried over: what deploys on a push must be written down. Production's
    settings are not carried over when it says `production: false`."""
    if not isinstance(data, dict) or not isinstance(data.get("environments"), dict):
        return data
    filled = {}
    for name, environment in data["environments"].items():
        default = default_environments().get(name) if isinstance(name, str) else None
        if default is None or not isinstance(environment, dict) or environment.get("production") is False:
            filled[name] = environment
            continue
        settings = default.model_dump(exclude_unset=True, exclude={"branch"})
        filled[name] = {**settings, **environment}
    return {**data, "environments": filled}


def _is_production(name: str, environment: Environment) -> bool:
    return name == "production" if environment.production is None else environment.production


def _store_port(store: Datastore) -> int:
    return store.port or {"postgres": 5432, "redis": 6379}[store.engine]


def _store_prefix(store: Datastore) -> str:
    return store.env_prefix or {"postgres": "DB", "redis": "REDIS"}[store.engine]


def generated_variables(service: Service, datastores: Mapping[str, Datastore],
                        buckets: Collection[str] = ()) -> dict[str, str]:
    """Every variable the plan gives a service on its own, and what sets it (plan._service_config, _secrets,
    _shared_config, and compose's S3 stand-in): a spec's env or secret of the same name would silently replace it,
    or be replaced."""
    generated = dict(_ALWAYS_GENERATED)
    used_buckets = [name for name in service.uses if name in buckets]
    for name in used_buckets:
        generated[bucket_variable(name)] = f"bucket '{name}' (its name in the environment)"
    if used_buckets or any(isinstance(egress_target(target), str) for target in service.egress):
        generated.update(dict.fromkeys(AWS_VARIABLES, "the AWS services it calls (region, local S3 stand-in)"))
    for callee in service.calls:
        generated[service_url_variable(callee)] = f"the address of '{callee}', which it calls"
    for name in service.uses:
        if name not in datastores:
            continue
        prefix = _store_prefix(datastores[name])
        for part, what in (("HOST", "host"), ("PORT", "port"), ("TLS", "TLS setting")):
            generated[f"{prefix}_{part}"] = f"data store '{name}' (its {what})"
        if datastores[name].engine == "postgres":
            generated[f"{prefix}_NAME"] = f"data store '{name}' (its database's name)"
        for part in ("USERNAME", "PASSWORD"):
            generated[f"{prefix}_{part}"] = _CREDENTIALS
        generated[tls_servername_variable(prefix)] = f"data store '{name}' (the name its certificate holds)"
    engines = {name: datastores[name].engine for name in service.uses if name in datastores}
    for store, variable in connection_url_variables(engines).items():
        generated[variable] = f"data store '{store}' (its connection string, with the credentials)"
    return generated


_CREDENTIALS = "a secret set from its data store's credentials"
_ALWAYS_GENERATED = {"PORT": "the service's port", "PLATFORM": "the platform's name",
                     "ENVIRONMENT": "the environment's name"}


@dataclass(frozen=True)
class _Parts:
    """What the platform-wide checks read. For a spec with field errors, only the parts that validated on
    their own are here, so a check never reports something a broken part made up; names are every one declared."""

    name: str | None
    domain: str | None
    services: Mapping[str, Service]
    datastores: Mapping[str, Datastore]
    environments: Mapping[str, Environment]
    service_names: frozenset[str] | None = None  # default: those of `services`
    store_names: frozenset[str] | None = None
    dropped: frozenset[PathTuple] = frozenset()  # invalid fields left out of the parts above: their defaults stand in
    region: str | None = None  # the platform's region, when valid
    buckets: frozenset[str] = frozenset()  # the names of `storage:`

    def sure(self, *path: str | int) -> bool:
        """Whether a field holds what was written, not a default standing in for an invalid value."""
        return path not in self.dropped

    @cached_property
    def declared_services(self) -> frozenset[str]:
        return frozenset(self.services) if self.service_names is None else self.service_names

    @cached_property
    def declared_stores(self) -> frozenset[str]:
        stores = frozenset(self.datastores) if self.store_names is None else self.store_names
        return stores | self.buckets  # what `uses` may name

    @cached_property
    def service_vocabulary(self) -> Vocabulary:  # built once: a hint per bad reference must not rescan every name
        return Vocabulary(self.declared_services)

    def problems(self) -> list[Problem]:
        return [*self._name_problems(), *self._service_problems(), *self._port_problems(),
                *self._environment_problems()]

    def _name_problems(self) -> list[Problem]:
        problems: list[Problem] = []
        for name in sorted(self.declared_services & self.declared_stores):
            section = "storage" if name in self.buckets else "datastores"
            problems.append(((section, name), f"'{name}' is also a service; names must be unique"))
        stores = frozenset(self.datastores) if self.store_names is None else self.store_names
        for name in sorted(stores & self.buckets):
            problems.append((("storage", name), f"'{name}' is also a data store; names must be unique"))
        for name in sorted(self.buckets & set(RESERVED_BUCKETS)):
            problems.append((("storage", name), f"'{name}' is the name of the platform's own {name} bucket; name "
                             "this one differently"))
        if self.name in self.declared_services:  # `<platform>-config` is the shared ConfigMap, `<service>-config` its own
            problems.append((("services", self.name), f"'{self.name}' is the platform's name; their ConfigMaps "
                             "would collide, so name the service differently"))
        for store in sorted(self.datastores):
            job = f"{store}-bootstrap"  # plan.bootstrap_name: the Job that creates the store's role and databases
            if self.datastores[store].engine == "postgres" and job in self.declared_services:
                problems.append((("services", job), f"'{job}' is the name of the Job that bootstraps data store "
                                 f"'{store}'; name the service differently"))
            exporter = f"{store}-exporter"  # plan.exporter_name: the Deployment that exports the store's metrics
            if exporter in self.declared_services:
                problems.append((("services", exporter), f"'{exporter}' is the name of the exporter of data store "
                                 f"'{store}'; name the service differently"))
        return problems

    def _service_problems(self) -> list[Problem]:
        problems: list[Problem] = []
        for name, service in self.services.items():
            path = ("services", name)
            problems += self._references((*path, "calls"), service.calls, "service")
            problems += self._references((*path, "uses"), service.uses, "data store or bucket")
            problems += _duplicates((*path, "egress"), service.egress)
            if name in service.calls:
                problems.append(((*path, "calls"), f"'{name}' cannot call itself"))
            problems += _duplicates((*path, "secrets"), service.secrets)
            probes = service.probes
            if probes.readiness not in (None, service.health) and probes.liveness == probes.readiness:
                problems.append(((*path, "probes", "liveness"), f"'{probes.liveness}' is the readiness path, which "
                                 "may check dependencies; liveness must not (an outage of one would restart every "
                                 f"pod): use the health path '{service.health}' or one that checks the process only"))
            problems += [((*path, "secrets", index), f"'{secret}' would be stored where the image pull token lives "
                          f"(<platform>/<env>/{REGISTRY_SECRET}); name it differently")
                         for index, secret in enumerate(service.secrets) if secret == REGISTRY_SECRET.upper()]
            problems += self._variable_clashes(path, service)
            problems += self._database_problems(path, name, service)
            problems += _kind_problems(path, service, schedule_written=not self.sure(*path, "schedule"))
            problems += self._callee_problems(path, service)
            prefixes = Counter(_store_prefix(self.datastores[store]) for store in service.uses if store in self.datastores)
            for prefix, count in sorted(prefixes.items()):
                if count > 1:
                    problems.append(((*path, "uses"), f"{count} data stores give it {prefix}_* variables; "
                                     "set env_prefix on one of them"))
            if service.public and self.domain and not _under(service.public.host, self.domain):
                problems.append(((*path, "public", "host"),
                                 f"'{service.public.host}' is not under the platform's domain '{self.domain}'"))
        return problems

    def _database_problems(self, path: PathTuple, name: str, service: Service) -> list[Problem]:
        """Its database is also the name of the role that owns it: never one the server or RDS keeps."""
        if not any(self.datastores[s].engine == "postgres" for s in service.uses if s in self.datastores):
            return []
        database = service.database or name.replace("-", "_")
        if database in RESERVED_DATABASE_NAMES or database.startswith(RESERVED_DATABASE_PREFIXES):
            where = (*path, "database") if service.database else path
            return [(where, f"its database '{database}' would also name the role owning it, which PostgreSQL or RDS "
                     "keeps for its own; set `database` to another name")]
        return []

    def _references(self, path: PathTuple, names: tuple[str, ...], kind: str) -> list[Problem]:
        known, other = (self.declared_services, self.declared_stores) if kind == "service" else \
            (self.declared_stores, self.declared_services)
        problems = _duplicates(path, names)
        for index, name in enumerate(names):
            if name in known:
                continue
            if name in other:
                where = "calls" if path[-1] == "uses" else "uses"
                problems.append(((*path, index), f"'{name}' is not a {kind}; list it under {where}"))
            else:
                choices = self.service_vocabulary if kind == "service" else known
                problems.append(((*path, index), f"no {kind} named '{name}'{did_you_mean(name, choices)}"))
        return problems

    def _callee_problems(self, path: PathTuple, service: Service) -> list[Problem]:
        """Only a web service takes requests: a worker's port serves metrics, a cron job has none."""
        problems: list[Problem] = []
        for index, callee in enumerate(service.calls):
            kind = self.services[callee].kind if callee in self.services else "web"
            if kind != "web":
                problems.append(((*path, "calls", index), f"'{callee}' is a {kind}, which takes no requests; "
                                 "only a web service can be called"))
        return problems

    def _variable_clashes(self, path: PathTuple, service: Service) -> list[Problem]:
        """Its env and secrets must not take a name the plan sets itself."""
        generated = generated_variables(service, self.datastores, self.buckets)
        problems: list[Problem] = []
        for index, secret in enumerate(service.secrets):
            if secret in generated:
                problems.append(((*path, "secrets", index), _clash(secret, generated[secret], secret=True)))
        for key in sorted(service.env.keys() & set(service.secrets)):
            problems.append(((*path, "env", key), f"'{key}' is also listed under secrets"))
        for key in sorted(service.env.keys() & generated.keys()):
            problems.append(((*path, "env", key), _clash(key, generated[key])))
        return problems

    def _port_problems(self) -> list[Problem]:
        owners: dict[int, PathTuple] = {}
        problems: list[Problem] = []
        listeners = [(("services", n, "port"), s.port) for n, s in self.services.items()
                     if s.port is not None and self.sure("services", n, "port")]
        listeners += [(("datastores", n, "port"), _store_port(s)) for n, s in self.datastores.items()
                      if self.sure("datastores", n, "port")]
        for path, port in listeners:
            if port in owners:
                problems.append((path, f"port {port} is already used by {owners[port][0]}.{owners[port][1]}"))
            owners.setdefault(port, path)
        return problems

    def _environment_problems(self) -> list[Problem]:
        problems: list[Problem] = []
        live = [name for name, environment in self.environments.items()
                if _is_production(name, environment) and self.sure("environments", name, "production")]
        for name in live[1:]:
            problems.append((("environments", name, "production"), f"only one environment can be production; "
                             f"'{live[0]}' already is"))
        branches: dict[str, str] = {}
        for name, environment in self.environments.items():
            path = ("environments", name)
            if name == BOOTSTRAP_STACK and environment.runs_on == "kubernetes":
                problems.append((path, f"'{name}' is the platform's bootstrap stack (terraform/{name}/: the state "
                                 "bucket and the CI roles); name the environment differently"))
            if environment.production is None and self.sure(*path, "production") and name != "production" \
                    and _LOOKS_LIVE & set(name.split("-")):
                problems.append((path, f"'{name}' is named like a production environment; say production: true "
                                 "(or production: false) so that nothing is guessed"))
            if environment.branch in branches:
                problems.append(((*path, "branch"), f"branch '{environment.branch}' already deploys "
                                 f"'{branches[environment.branch]}'"))
            if environment.branch:
                branches.setdefault(environment.branch, name)
            problems += self._shared_variable_clashes(path, environment.env)
            problems += environment.recovery.problems((*path, "recovery"), self.region)
            for service, override in environment.services.items():
                problems += self._override_problems((*path, "services", service), service, override)
        return problems

    def _shared_variable_clashes(self, path: PathTuple, env: Mapping[str, str]) -> list[Problem]:
        """Every service gets the environment's env beside its own variables: none may share a name."""
        generated: dict[str, str] = {}
        for name, service in sorted(self.services.items(), reverse=True):  # the first service named wins
            generated.update({secret: f"a secret of service '{name}'" for secret in service.secrets})
            generated.update({variable: f"{_as_source(what)} for service '{name}'" for variable, what in
                              generated_variables(service, self.datastores, self.buckets).items()})
        generated.update(_ALWAYS_GENERATED)
        return [((*path, "env", key), _clash(key, generated[key])) for key in sorted(env.keys() & generated.keys())]

    def _override_problems(self, path: PathTuple, service: str, override: ServiceOverride) -> list[Problem]:
        if service not in self.declared_services:
            return [(path, f"no service named '{service}'{did_you_mean(service, self.service_vocabulary)}")]
        spec = self.services.get(service)
        if spec is None:  # the service itself has errors, reported at it
            return []
        if override.public and not spec.public and self.sure("services", service, "public"):
            return [((*path, "public"), f"'{service}' is not public; set public on the service itself")]
        if override.public and self.domain and not _under(override.public.host, self.domain):
            return [((*path, "public", "host"),
                     f"'{override.public.host}' is not under the platform's domain '{self.domain}'")]
        generated = {**generated_variables(spec, self.datastores, self.buckets),
                     **dict.fromkeys(spec.secrets, "one of its secrets")}
        return [((*path, "env", key), _clash(key, generated[key]))
                for key in sorted(override.env.keys() & generated.keys())]


def _kind_problems(path: PathTuple, service: Service, *, schedule_written: bool = False) -> list[Problem]:
    """The fields that make sense for its kind: a worker is never public and has a liveness check, a cron job has a
    schedule and no port or replicas, and only a cron job has a schedule. `schedule_written`: one was written, but
    is invalid (reported at it)."""
    problems: list[Problem] = []
    if service.kind != "web" and service.public:
        problems.append(((*path, "public"), f"a {service.kind} takes no requests, so it cannot be public"))
    if service.kind == "web" and service.health_command:
        problems.append(((*path, "health_command"), "a web service is checked at its health path; health_command "
                         "is a worker's liveness check"))
    if service.kind == "worker" and service.port is None and not service.health_command:
        problems.append(((*path, "health_command"), "a worker needs a liveness check: health_command, or a port "
                         "where it serves metrics"))
    if service.kind == "cron":
        if service.schedule is None and not schedule_written:
            problems.append(((*path, "schedule"), "a cron job needs a schedule, such as '0 3 * * *' (UTC)"))
        stated = {"port": service.port is not None, "replicas": service.replicas != Scale(min=2, max=2),
                  "health_command": service.health_command is not None}
        problems += [((*path, field), f"a cron job has no {field}; it runs once per schedule and listens to nothing")
                     for field, written in stated.items() if written]
    else:
        stated = {"schedule": service.schedule is not None, "job": service.job != Job()}
        problems += [((*path, field), f"only a cron job (kind: cron) has a {field}")
                     for field, written in stated.items() if written]
    return problems


def _as_source(what: str) -> str:
    return "its data store's credentials" if what == _CREDENTIALS else what


def _clash(variable: str, source: str, *, secret: bool = False) -> str:
    if source == _CREDENTIALS:  # worded as the credentials' own check always was
        return f"'{variable}' is set from its data store's credentials" if secret else f"'{variable}' is {source}"
    return f"'{variable}' is set by bizinfra from {source}; choose another name"


def problems_beside_field_errors(data: Any) -> list[Problem]:
    """The platform-wide problems of a spec whose fields did not all validate, so that one round reports them all.

    pydantic runs `Platform`'s own check only once every field is valid; this runs the same check on what is
    valid: each service, data store and environment without its invalid fields. A check that would read a
    dropped field's default instead of what was written (a port, a prefix, a flag) leaves that part out."""
    if not isinstance(data, dict):
        return []
    data = with_default_environment_settings(data)
    dropped: set[PathTuple] = set()
    services = _valid_entries("services", data.get("services"), Name, Service, dropped)
    datastores = {name: store for name, store in
                  _valid_entries("datastores", data.get("datastores"), ShortName, Datastore, dropped).items()
                  if ("datastores", name, "env_prefix") not in dropped}  # a default prefix would invent clashes
    environments = (_valid_entries("environments", data["environments"], ShortName, Environment, dropped)
                    if "environments" in data else default_environments())
    parts = _Parts(_valid_or_none(PlatformName, data.get("name")), _valid_or_none(Hostname, data.get("domain")),
                   services, datastores, environments, _declared(data.get("services")),
                   _declared(data.get("datastores")), frozenset(dropped),
                   _valid_or_none(Region, data.get("region", "us-east-1")), _declared(data.get("storage")))
    return parts.problems()


def _valid_or_none(kind: Any, value: Any) -> Any:
    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError:
        return None


def _declared(raw: Any) -> frozenset[str]:
    return frozenset(name for name in raw if isinstance(name, str)) if isinstance(raw, dict) else frozenset()


def _valid_entries(section: str, raw: Any, key: Any, model: type[Frozen], dropped: set[PathTuple]) -> dict[str, Any]:
    """The entries of a mapping with a valid key, each without its invalid fields (added to `dropped`)."""
    if not isinstance(raw, dict):
        return {}
    valid = {}
    for name, value in raw.items():
        if _valid_or_none(key, name) is None or not isinstance(value, dict):
            continue
        try:
            valid[name] = model.model_validate(value)
        except ValidationError as error:
            bad = {item["loc"][0] for item in error.errors() if item["loc"]}
            entry = _valid_or_none(model, {field: v for field, v in value.items() if field not in bad})
            if entry is not None:
                valid[name] = entry
                dropped.update((section, name, str(field)) for field in bad)
    return valid


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
