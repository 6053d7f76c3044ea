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
_SECRET_WORDS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY", "ACCESS_KEY")
_env_var = st.from_regex(r"[A-Z][A-Z0-9_]{0,10}", fullmatch=True).filter(
    lambda v: not v.startswith(("DB_", "REDIS_")) and not any(word in v for word in _SECRET_WORDS))
_env_value = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)
_cpu = st.sampled_from(["50m", "100m", "250m", "500m", "1", "2"])
_memory = st.sampled_from(["64Mi", "128Mi", "256Mi", "512Mi", "1Gi", "2Gi"])


@st.composite
def _range(draw: st.DrawFn, values: st.SearchStrategy[str], order: list[str]) -> str:
    low, high = sorted([draw(values), draw(values)], key=order.index)
    return f"{low}..{high}"


@st.composite
def platform_specs(draw: st.DrawFn, max_services: int = 6) -> dict[str, Any]:
    name = draw(_label)
    domain = f"{draw(_label)}.example.com"
    names = draw(st.lists(_label.filter(lambda label: label != name), min_size=1 + 2, max_size=max_services + 2,
                          unique=True))
    store_names, service_names = names[:2], names[2:]
    ports = draw(st.lists(st.integers(1024, 65000), min_size=len(names), max_size=len(names), unique=True))
    datastores = {}
    for store, engine in zip(store_names, draw(st.permutations(["postgres", "redis"])), strict=True):
        if draw(st.booleans()):
            datastores[store] = {"engine": engine, "version": "15" if engine == "postgres" else "7",
                                 "port": ports[names.index(store)]}
    services = {}
    for service in service_names:
        others = [s for s in service_names if s != service]
        spec: dict[str, Any] = {
            "port": ports[names.index(service)],
            "calls": draw(st.lists(st.sampled_from(others), unique=True)) if others else [],
            "uses": draw(st.lists(st.sampled_from(sorted(datastores)), unique=True)) if datastores else [],
            "resources": {"cpu": draw(_range(_cpu, ["50m", "100m", "250m", "500m", "1", "2"])),
                          "memory": draw(_range(_memory, ["64Mi", "128Mi", "256Mi", "512Mi", "1Gi", "2Gi"]))},
        }
        low = draw(st.integers(1, 4))
        spec["replicas"] = low if draw(st.booleans()) else {"min": low, "max": low + draw(st.integers(0, 6))}
        if draw(st.booleans()):
            spec["public"] = {"host": f"{draw(_label)}.{domain}"}
        spec["secrets"] = draw(st.lists(_env_var, unique=True, max_size=2))
        spec["env"] = {k: v for k, v in draw(st.dictionaries(_env_var, _env_value, max_size=2)).items()
                       if k not in spec["secrets"]}
        services[service] = spec
    hosts = [s["public"]["host"] for s in services.values() if "public" in s]
    if len(hosts) != len(set(hosts)):  # two services on one host: keep the first public
        for spec in services.values():
            if "public" in spec and hosts.count(spec["public"]["host"]) > 1:
                hosts.remove(spec.pop("public")["host"])
    environments = {
        "development": {"runs_on": "compose"},
        "staging": {"branch": "develop", "nodes": draw(st.integers(1, 3))},
        "production": {"branch": "main", "nodes": {"min": 2, "max": draw(st.integers(2, 9))},
                       "highly_available": draw(st.booleans()),
                       "rollout": draw(st.sampled_from(["rolling", "blue-green"]))},
    }
    return {
        "name": name,
        "domain": domain,
        "region": draw(st.sampled_from(["ap-south-1", "eu-west-1", "us-east-1"])),
        "network": {"cidr": draw(st.sampled_from(["10.0.0.0/16", "172.20.0.0/18", "192.168.0.0/20"])),
                    "zones": draw(st.integers(2, 3))},
        "services": services,
        "datastores": datastores,
        "environments": environments,
        "delivery": {"repository": f"{draw(_label)}/{name}"},
        "monitoring": {"availability": draw(st.sampled_from([99.0, 99.5, 99.9, 99.95, 99.99])),
                       "latency_p95": draw(st.sampled_from(["250ms", "500ms", "1s", "2s"])),
                       "error_rate": draw(st.sampled_from(["1%", "5%", "10%"]))},
    }


def platforms(max_services: int = 6) -> st.SearchStrategy[Platform]:
    return platform_specs(max_services).map(Platform.model_validate)
