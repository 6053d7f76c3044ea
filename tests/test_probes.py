"""Startup, readiness and liveness probes: each path as the spec says (its health path by default), in every file
that asks a service about itself."""

from __future__ import annotations

import json

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


@settings(max_examples=min(10, settings().max_examples))  # each example builds every target
@given(platforms())
def test_every_probe_asks_the_path_the_spec_gives_it(platform: Platform) -> None:
    """Kubernetes asks all three; compose's healthcheck and the load balancer's target health ask readiness."""
    files = build_tree([Spec("specs/random.yaml", platform)]).files
    clusters = [env for env, spec in platform.environments.items() if spec.runs_on == "kubernetes"]
    for env in clusters:
        workloads = yaml.safe_load_all(files[f"{platform.name}/kubernetes/{env}/workloads.yaml"])
        containers = [doc["spec"]["template"]["spec"]["containers"][0] for doc in workloads
                      if doc and doc["kind"] == "Deployment"]
        assert {container["name"] for container in containers} == set(platform.services)
        for container in containers:
            for probe, key in PROBES.items():
                assert container[key]["httpGet"]["path"] == expected_path(platform, container["name"], probe)
        public = json.loads(files.get(f"{platform.name}/terraform/{env}/public.tf.json", b"{}"))
        for group in public.get("resource", {}).get("aws_lb_target_group", {}).values():
            service = next(name for name, spec in platform.services.items() if spec.port == group["port"])
            assert group["health_check"]["path"] == expected_path(platform, service, "readiness")
    compose = files.get(f"{platform.name}/compose/docker-compose.yml")
    if compose:
        services = yaml.safe_load(compose)["services"]
        for service in platform.services:
            url = services[service]["healthcheck"]["test"][-1]
            assert url.endswith(f":{platform.services[service].port}{expected_path(platform, service, 'readiness')}")


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
