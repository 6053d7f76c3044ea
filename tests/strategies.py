"""Hypothesis strategies for whole, valid, random platforms.

`platform_specs()` draws the spec as plain data (what a user would write in YAML);
`platforms()` the validated `Platform`. Every name, port and edge is random, and the
platform is still valid: unique ports, references to declared names only, hosts under
the domain.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from bizinfra.spec.models import Platform

_label = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,5})?", fullmatch=True)
_SECRET_WORDS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY", "ACCESS_KEY",
                 "CREDENTIALS", "PWD")  # the secret scan's words: a value under such a name is refused
_GENERATED = ("PORT", "PLATFORM", "ENVIRONMENT")  # variables bizinfra sets itself, refused in a spec's env
_env_var = st.from_regex(r"[A-Z][A-Z0-9_]{0,10}", fullmatch=True).filter(
    lambda v: not v.startswith(("DB_", "REDIS_", "STORE_")) and not any(word in v for word in _SECRET_WORDS)
    and not v.endswith(("_PASS", "_URL", "_BUCKET")) and not v.startswith("AWS_") and v not in _GENERATED)
_env_value = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)
_ROOMY_NODE = "m5.4xlarge"  # 16 vCPUs, 64 GiB, 234 pods
_cpu = st.sampled_from(["50m", "100m", "250m", "500m", "1", "2"])
_memory = st.sampled_from(["64Mi", "128Mi", "256Mi", "512Mi", "1Gi", "2Gi"])


@st.composite
def _range(draw: st.DrawFn, values: st.SearchStrategy[str], order: list[str]) -> str:
    low, high = sorted([draw(values), draw(values)], key=order.index)
    return f"{low}..{high}"


_RECEIVER_KINDS = {
    "slack": lambda draw: {"channel": f"#{draw(_label)}"},
    "pagerduty": lambda draw: {},
    "webhook": lambda draw: {},
    "email": lambda draw: {"to": f"{draw(_label)}@example.com", "sender": f"alerts@{draw(_label)}.example.org",
                           "smarthost": "smtp.example.com:587"},
}


@st.composite
def alert_receivers(draw: st.DrawFn) -> dict[str, Any]:
    """monitoring's receivers, pages, tickets and heartbeat: none at all, or a few of any kind, each severity routed
    to some of them (possibly none), a heartbeat webhook or not."""
    names = draw(st.lists(_label.filter(lambda name: name != "null"), max_size=4, unique=True))
    if not names:
        return {}
    receivers = {}
    for name in names:
        kind = draw(st.sampled_from(sorted(_RECEIVER_KINDS)))
        receivers[name] = {"kind": kind, **_RECEIVER_KINDS[kind](draw)}
    routed: dict[str, Any] = {"receivers": receivers,
                              "pages": draw(st.lists(st.sampled_from(names), unique=True)),
                              "tickets": draw(st.lists(st.sampled_from(names), unique=True))}
    webhooks = [name for name in names if receivers[name]["kind"] == "webhook"]
    if webhooks and draw(st.booleans()):
        routed["heartbeat"] = draw(st.sampled_from(webhooks))
    return routed


@st.composite
def platform_specs(draw: st.DrawFn, max_services: int = 6) -> dict[str, Any]:
    name = draw(_label)
    domain = f"{draw(_label)}.example.com"
    # a service's database (its name, `_` for `-`) also names its role: not one PostgreSQL or RDS keeps (rds*, pg_*)
    names = draw(st.lists(_label.filter(lambda label: label != name and not label.startswith(("rds", "pg-"))),
                          min_size=1 + 2, max_size=max_services + 2, unique=True))
    store_names, service_names = names[:2], names[2:]
    ports = draw(st.lists(st.integers(1024, 65000), min_size=len(names), max_size=len(names), unique=True))
    datastores = {}
    for store, engine in zip(store_names, draw(st.permutations(["postgres", "redis"])), strict=True):
        if draw(st.booleans()):
            datastores[store] = {"engine": engine, "version": "15" if engine == "postgres" else "7",
                                 "port": ports[names.index(store)]}
    buckets = draw(_buckets([name, *names]))
    # The first service takes requests; the others may be workers or cron jobs, which only web services call.
    kinds = {service: "web" if index == 0 else draw(st.sampled_from(["web", "web", "worker", "cron"]))
             for index, service in enumerate(service_names)}
    services = {}
    for service in service_names:
        others = [s for s in service_names if s != service and kinds[s] == "web"]
        spec: dict[str, Any] = {
            "port": ports[names.index(service)],
            "calls": draw(st.lists(st.sampled_from(others), unique=True)) if others else [],
            "uses": draw(st.lists(st.sampled_from(sorted(datastores) + sorted(buckets)), unique=True))
            if datastores or buckets else [],
            "egress": draw(st.lists(st.sampled_from(_EGRESS), unique=True, max_size=3)),
            "resources": {"cpu": draw(_range(_cpu, ["50m", "100m", "250m", "500m", "1", "2"])),
                          "memory": draw(_range(_memory, ["64Mi", "128Mi", "256Mi", "512Mi", "1Gi", "2Gi"]))},
        }
        low = draw(st.integers(1, 4))
        spec["replicas"] = low if draw(st.booleans()) else {"min": low, "max": low + draw(st.integers(0, 6))}
        probes = draw(st.fixed_dictionaries({}, optional={"startup": st.just("/started"),
                                                          "readiness": st.just("/ready"),
                                                          "liveness": st.just("/live")}))
        if probes:
            spec["probes"] = probes
        if draw(st.booleans()):
            spec["public"] = {"host": f"{draw(_label)}.{domain}"}
        if draw(st.booleans()):
            spec["build"] = draw(build_settings())
        if draw(st.integers(0, 3)) == 0:
            spec["command"] = draw(st.sampled_from([["node", "dist/worker.js"], ["node", "dist/main.js", "--mode=$MODE"]]))
        spec["secrets"] = draw(st.lists(_env_var, unique=True, max_size=2))
        spec["env"] = {k: v for k, v in draw(st.dictionaries(_env_var, _env_value, max_size=2)).items()
                       if k not in spec["secrets"]}
        services[service] = _of_kind(draw, kinds[service], spec)
    hosts = [s["public"]["host"] for s in services.values() if "public" in s]
    if len(hosts) != len(set(hosts)):  # two services on one host: keep the first public
        for spec in services.values():
            if "public" in spec and hosts.count(spec["public"]["host"]) > 1:
                hosts.remove(spec.pop("public")["host"])
    environments = {
        "development": {"runs_on": "compose"},
        # Nodes large enough for any drawn pod (up to 2 CPUs) and enough of them for the peak of a release (up to
        # 8 pods of 2 CPUs per service), so that the loader's capacity check accepts every drawn platform.
        "staging": {"branch": "develop", "nodes": {"min": draw(st.integers(1, 3)), "max": draw(st.integers(8, 10))},
                    "sizes": {"node": _ROOMY_NODE}},
        "production": {"branch": "main", "nodes": {"min": 2, "max": draw(st.integers(8, 12))},
                       "sizes": {"node": _ROOMY_NODE},
                       "highly_available": draw(st.booleans()),
                       "rollout": draw(st.sampled_from(["rolling", "blue-green"]))},
    }
    recovery = draw(_recovery())
    if recovery is not None:
        environments["production"]["recovery"] = recovery
    return {
        "name": name,
        "domain": domain,
        "region": draw(st.sampled_from(["ap-south-1", "eu-west-1", "us-east-1"])),
        "network": {"cidr": draw(st.sampled_from(["10.0.0.0/16", "172.20.0.0/18", "192.168.0.0/20"])),
                    "zones": draw(st.integers(2, 3))},
        "services": services,
        "datastores": datastores,
        "storage": buckets,
        "environments": environments,
        "delivery": {"repository": f"{draw(_label)}/{name}"},
        "monitoring": {"availability": draw(st.sampled_from([99.0, 99.5, 99.9, 99.95, 99.99])),
                       "latency_p95": draw(st.sampled_from(["250ms", "500ms", "1s", "2s"])),
                       "error_rate": draw(st.sampled_from(["1%", "5%", "10%"])), **draw(alert_receivers())},
        # Whole days and hours up to CloudWatch's longest retention: on and between the values it accepts.
        "logs": {"keep": draw(st.one_of(st.integers(1, 3653).map("{}d".format),
                                        st.integers(24, 240).map("{}h".format)))},
    }


# A service's own build settings: each field set or left to the delivery's and the Nx layout's default.
_BUILD_VALUES = {
    "project": st.sampled_from(["storefront", "web-app"]),
    "node_version": st.sampled_from(["20", "22", "24", "26", "22.11.0"]),
    "install": st.sampled_from(["pnpm install --frozen-lockfile", "corepack enable && yarn install --immutable",
                                "npm ci --ignore-scripts"]),
    "command": st.sampled_from(["npx nx build web --configuration=production", 'npm run build -- --base="$BASE"']),
    "output": st.sampled_from(["apps/web/.next/standalone", "dist/apps/web", "build"]),
    "prune": st.sampled_from(["npm prune --omit=dev --ignore-scripts", "true"]),
    "start": st.sampled_from(["node dist/server.js", "node --enable-source-maps dist/main.js"]),
}


@st.composite
def build_settings(draw: st.DrawFn) -> dict[str, Any]:
    return {key: draw(values) for key, values in _BUILD_VALUES.items() if draw(st.booleans())}


_SCHEDULES = ["0 3 * * *", "*/15 * * * *", "30 2 * * MON-FRI", "0 0 1 * *", "5 4 * * SUN"]


def _of_kind(draw: st.DrawFn, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A service drawn as a web one, made a worker (never public; its port, when kept, serves metrics; else a
    liveness command) or a cron job (no port, replicas or public host; a schedule and maybe its run settings)."""
    if kind == "web":
        return spec
    spec = {key: value for key, value in spec.items() if key != "public"}
    if kind == "worker":
        if draw(st.booleans()):
            del spec["port"]
            spec["health_command"] = draw(st.sampled_from(["test -f /tmp/alive", "node dist/health.js"]))
        return {"kind": "worker", **spec}
    spec = {key: value for key, value in spec.items() if key not in ("port", "replicas")}
    spec["schedule"] = draw(st.sampled_from(_SCHEDULES))
    if draw(st.booleans()):
        spec["job"] = {"concurrency": draw(st.sampled_from(["forbid", "allow", "replace"])),
                       "timeout": draw(st.sampled_from(["5m", "1h", "6h"])),
                       "keep_failed": draw(st.integers(0, 5))}
    return {"kind": "cron", **spec}


# External hosts (HTTPS and another port) and AWS services, with and without a free gateway endpoint.
_EGRESS = ["api.stripe.com", "o123.ingest.sentry.io", "smtp.sendgrid.net:587", "s3", "sqs", "dynamodb",
           "secretsmanager"]


@st.composite
def _buckets(draw: st.DrawFn, taken: list[str]) -> dict[str, Any]:
    """Up to two application buckets, each with a random lifecycle S3 accepts."""
    names = draw(st.lists(_label.filter(lambda label: label not in taken and label not in ("backups", "logs")),
                          unique=True, max_size=2))
    buckets: dict[str, Any] = {}
    for bucket in names:
        spec: dict[str, Any] = {}
        after = draw(st.integers(30, 400))
        if draw(st.booleans()):
            spec["transition"] = {"after": f"{after}d", "to": draw(st.sampled_from(
                ["infrequent-access", "intelligent-tiering", "glacier-instant", "glacier-flexible", "deep-archive"]))}
        if draw(st.booleans()):
            spec["expire"] = f"{after + draw(st.integers(1, 3000))}d"
        if draw(st.booleans()):
            spec["keep_versions"] = f"{draw(st.integers(1, 365))}d"
        buckets[bucket] = spec
    return buckets


@st.composite
def _recovery(draw: st.DrawFn) -> dict[str, Any] | None:
    """Production's recovery objectives: the defaults, or an RPO and RTO at and above their floors, maybe with a
    second region (never one the strategy's platforms run in) and a standby that is a pilot light or not."""
    if draw(st.booleans()):
        return None
    recovery: dict[str, Any] = {"rpo": draw(st.sampled_from(["15m", "1h", "24h"])),
                                "rto": draw(st.sampled_from(["30m", "1h", "2h", "4h"]))}
    if draw(st.booleans()):
        recovery["region"] = draw(st.sampled_from(["eu-central-1", "ap-southeast-1"]))
    return recovery


def platforms(max_services: int = 6) -> st.SearchStrategy[Platform]:
    return platform_specs(max_services).map(Platform.model_validate)


# -- corners: the shapes a hand-written spec reaches that the typical platform above does not --------------------

_AVAILABILITY = [90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 99.9999, 99.99999]
_COMMANDS = {
    "install": ["npm ci", "pnpm install --frozen-lockfile", "yarn install --immutable"],
    "lint": ["npm run lint", "npx nx run-many -t lint", "pnpm lint && pnpm typecheck"],
    "test": ["npm test -- --coverage", "npx nx run-many -t test --coverage", "CI=true yarn test"],
    "migrate": ["npx prisma migrate deploy", "npm run typeorm -- migration:run -d dist/data-source.js"],
}


@st.composite
def _datastores(draw: st.DrawFn, names: list[str], ports: list[int]) -> dict[str, Any]:
    """None, one, or several stores, several of one engine included (each then with its own env prefix)."""
    engines = draw(st.lists(st.sampled_from(["postgres", "redis"]), max_size=min(3, len(names))))
    stores: dict[str, Any] = {}
    for name, port, engine in zip(names, ports, engines, strict=False):
        store: dict[str, Any] = {"engine": engine, "version": draw(st.sampled_from(
            ["13", "14", "15", "16", "17", "15.4"] if engine == "postgres" else ["6", "7", "7.1"]))}
        if engines.count(engine) > 1:  # two of one engine need their own ports and variable prefixes
            store["port"], store["env_prefix"] = port, "STORE_" + name.upper().replace("-", "_")
        elif draw(st.booleans()):
            store["port"] = port
        stores[name] = store
    return stores


@st.composite
def _environments(draw: st.DrawFn, services: list[str]) -> dict[str, Any] | None:
    """Every environment shape: the defaults, compose only, one cluster, custom names, two of a kind."""
    shape = draw(st.sampled_from(["default", "compose", "one", "seed", "custom", "two-compose"]))
    if shape == "default":
        return None
    if shape == "compose":
        return {"local": {"runs_on": "compose"}}
    environments: dict[str, Any] = {}
    if shape == "two-compose":
        environments = {"development": {"runs_on": "compose"}, "demo": {"runs_on": "compose", "production": False}}
    elif shape != "one":
        environments["development"] = {"runs_on": "compose"}
    if shape in ("seed", "two-compose"):
        environments["staging"] = {"branch": "develop", "nodes": {"min": draw(st.integers(1, 3)),
                                                                  "max": draw(st.integers(6, 8))}}
    live = "production" if shape != "custom" else draw(st.sampled_from(["live", "prd"]))
    # Room on t3.medium for the peak of a blue-green release of up to 5 services of 3 pods and 7 data stores.
    production: dict[str, Any] = {"branch": "main", "nodes": {"min": 2, "max": draw(st.integers(7, 10))},
                                  "highly_available": draw(st.booleans()),
                                  "rollout": draw(st.sampled_from(["rolling", "blue-green"]))}
    if live != "production" or draw(st.booleans()):
        production["production"] = True
    if draw(st.booleans()):
        production["env"] = {"LOG_LEVEL": "info"}
    if draw(st.booleans()):
        service = draw(st.sampled_from(services))
        production["services"] = {service: {"replicas": {"min": 2, "max": 8}, "env": {"FEATURE_X": "on"}}}
    environments[live] = production
    return environments


@st.composite
def corner_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A whole valid platform from the corners: one service or several, no data stores or several of one
    engine, every environment shape, extreme SLOs, with and without a repository, custom delivery commands."""
    name = draw(_label)
    domain = f"{draw(_label)}.example.org"
    names = draw(st.lists(_label.filter(lambda label: label != name and not label.endswith("-bootstrap")),
                          min_size=4, max_size=8, unique=True))
    service_names = names[: draw(st.integers(1, len(names) - 3))]
    ports = draw(st.lists(st.integers(1024, 65000).filter(lambda port: port not in (5432, 6379)),  # store defaults
                          min_size=len(names), max_size=len(names), unique=True))
    datastores = draw(_datastores(names[len(service_names):], ports[len(service_names):]))
    services: dict[str, Any] = {}
    for index, service in enumerate(service_names):
        others = [s for s in service_names if s != service]
        spec: dict[str, Any] = {"port": ports[index]}
        if others and draw(st.booleans()):
            spec["calls"] = draw(st.lists(st.sampled_from(others), unique=True, min_size=1))
        if datastores and draw(st.booleans()):
            used = draw(st.lists(st.sampled_from(sorted(datastores)), unique=True, min_size=1))
            spec["uses"] = used
        if draw(st.booleans()):
            low = draw(st.integers(1, 3))
            spec["replicas"] = low if draw(st.booleans()) else {"min": low, "max": low + draw(st.integers(0, 5))}
        if index == 0 or draw(st.booleans()):
            spec["public"] = {"host": f"{service}.{domain}" if index else domain}
        if draw(st.booleans()):
            spec["secrets"] = draw(st.lists(_env_var, unique=True, min_size=1, max_size=2))
        if draw(st.booleans()):
            spec["health"], spec["metrics"] = "/healthz", "/internal/metrics"
        services[service] = spec
    platform: dict[str, Any] = {
        "name": name,
        "domain": domain,
        "region": draw(st.sampled_from(["us-east-1", "eu-west-1", "ap-south-1", "us-gov-west-1"])),
        "services": services,
        "monitoring": {"availability": draw(st.sampled_from(_AVAILABILITY)),
                       "latency_p95": draw(st.sampled_from(["100ms", "1s", "3s"])),
                       "error_rate": draw(st.sampled_from(["0.1%", "5%", "50%"]))},
    }
    if datastores:
        platform["datastores"] = datastores
    environments = draw(_environments(service_names))
    if environments is not None:
        platform["environments"] = environments
    delivery: dict[str, Any] = {key: draw(st.sampled_from(values)) for key, values in _COMMANDS.items()
                                if draw(st.booleans())}
    if draw(st.booleans()):
        delivery["repository"] = f"acme/{name}"
    if delivery:
        platform["delivery"] = delivery
    if draw(st.booleans()):
        platform["backups"] = {"schedule": draw(st.sampled_from(["0 2 * * *", "*/30 * * * *", "15 3 * * 1-5"])),
                               "keep": draw(st.sampled_from(["7d", "30d", "365d"]))}
    if draw(st.booleans()):
        platform["registry"] = f"ghcr.io/acme/{name}"
    live = [env for env, spec in (environments or {}).items() if spec.get("runs_on") != "compose"]
    if live and draw(st.booleans()):
        recovery: dict[str, Any] = {"rpo": draw(st.sampled_from(["15m", "1h", "24h"])),
                                    "rto": draw(st.sampled_from(["30m", "1h", "4h"]))}
        if platform["region"] != "us-gov-west-1" and draw(st.booleans()):
            recovery["region"] = draw(st.sampled_from(["eu-central-1", "ca-central-1"]))
        environments[live[-1]]["recovery"] = recovery  # type: ignore[index]
    return platform
