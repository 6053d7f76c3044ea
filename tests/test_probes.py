"""Startup, readiness and liveness probes: each path as the spec says (its health path by default), in every file
that asks a service about itself."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import given, settings

from bizinfra.pipeline import build_tree
from bizinfra.spec.loader import Spec, SpecError, parse_spec
from bizinfra.spec.models import Platform
from tests.strategies import platforms

PROBES = {"startup": "startupProbe", "readiness": "readinessProbe", "liveness": "livenessProbe"}


def expected_path(platform: Platform, service: str, probe: str) -> str:
    spec = platform.services[service]
    return getattr(spec.probes, probe) or spec.health


def expected_check(platform: Platform, service: str, probe: str) -> dict[str, object] | None:
    """A web service's probes ask its paths; a worker takes no traffic (no readiness) and is alive by its command
    or by its metrics port (all it serves)."""
    spec = platform.services[service]
    if spec.kind == "web":
        return {"httpGet": expected_path(platform, service, probe)}
    if probe == "readiness":
        return None
    return {"exec": ["sh", "-c", spec.health_command]} if spec.health_command else {"httpGet": spec.metrics}


def check_of(container: dict[str, Any], key: str) -> dict[str, object] | None:
    probe = container.get(key)
    if probe is None:
        return None
    return {"exec": probe["exec"]["command"]} if "exec" in probe else {"httpGet": probe["httpGet"]["path"]}


@settings(max_examples=min(10, settings().max_examples))  # each example builds every target
@given(platforms())
def test_every_probe_asks_the_path_the_spec_gives_it(platform: Platform) -> None:
    """Kubernetes asks all three of a web service; compose's healthcheck and the load balancer's target health ask
    readiness. A cron job has none."""
    files = build_tree([Spec("specs/random.yaml", platform)]).files
    clusters = [env for env, spec in platform.environments.items() if spec.runs_on == "kubernetes"]
    running = {name for name, spec in platform.services.items() if spec.kind != "cron"}
    for env in clusters:
        workloads = yaml.safe_load_all(files[f"{platform.name}/kubernetes/{env}/workloads.yaml"])
        containers = [doc["spec"]["template"]["spec"]["containers"][0] for doc in workloads
                      if doc and doc["kind"] == "Deployment"]
        assert {container["name"] for container in containers} == running
        for container in containers:
            for probe, key in PROBES.items():
                assert check_of(container, key) == expected_check(platform, container["name"], probe), (probe, key)
        public = json.loads(files.get(f"{platform.name}/terraform/{env}/public.tf.json", b"{}"))
        for group in public.get("resource", {}).get("aws_lb_target_group", {}).values():
            service = next(name for name, spec in platform.services.items() if spec.port == group["port"])
            assert group["health_check"]["path"] == expected_path(platform, service, "readiness")
    compose = files.get(f"{platform.name}/compose/docker-compose.yml")
    if compose:
        services = yaml.safe_load(compose)["services"]
        for service in running:
            test = services[service]["healthcheck"]["test"]
            wanted = expected_check(platform, service, "readiness" if platform.services[service].kind == "web"
                                    else "liveness")
            assert wanted is not None
            if "exec" in wanted:
                assert test == ["CMD", *wanted["exec"]]  # type: ignore[misc]
            else:
                assert test[-1].endswith(f":{platform.services[service].port}{wanted['httpGet']}")


SPEC = """name: shop
domain: shop.example.com
services:
  web:
    port: 3000
    probes: {readiness: /ready, liveness: /ready}
"""


def test_liveness_on_a_readiness_path_that_may_check_dependencies_is_refused() -> None:
    with pytest.raises(SpecError) as refused:
        parse_spec(SPEC, "specs/shop.yaml")
    assert [(p.line, p.path) for p in refused.value.problems] == [(6, "services.web.probes.liveness")]
    assert "liveness must not" in refused.value.problems[0].message
    parse_spec(SPEC.replace("liveness: /ready", "liveness: /health"), "specs/shop.yaml")
