"""The spec language: defaults, overrides, the JSON Schema, and the bundled spec."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from bizinfra.plan import resolve
from bizinfra.spec.loader import SpecError, load_platform, parse_platform
from bizinfra.spec.schema import json_schema
from tests.conftest import ROOT, SPECS

FIVE_LINES = "name: shop\ndomain: shop.example.com\nservices:\n  web:\n    port: 8080\n"


def test_a_five_line_spec_is_a_whole_platform() -> None:
    platform = parse_platform(FIVE_LINES, "shop.yaml")
    plan = resolve(platform, "shop.yaml")
    assert [env.name for env in plan.environments] == ["development", "production", "staging"]
    assert [env.runs_on for env in plan.environments] == ["compose", "kubernetes", "kubernetes"]
    production = plan.environments[1]
    assert production.production and production.highly_available and production.nodes.min == 3
    web = production.service("web")
    assert (web.port, web.health_path, web.replicas.min, web.cpu_request, web.memory_limit) == \
        (8080, "/health", 2, "100m", "512Mi")


def test_every_per_environment_default_can_be_overridden() -> None:
    spec = FIVE_LINES + (
        "    public: {host: www.shop.example.com}\n"
        "    env: {LOG_LEVEL: info}\n"
        "environments:\n"
        "  staging:\n"
        "    nodes: {min: 2, max: 4}\n"
        "    sizes: {node: t3.large, database: db.t4g.micro, database_storage: 50, cache: cache.t4g.micro}\n"
        "    services:\n"
        "      web:\n"
        "        replicas: {min: 1, max: 3}\n"
        "        resources: {cpu: 250m..1, memory: 1Gi}\n"
        "        env: {LOG_LEVEL: debug}\n"
        "        public: {host: preview.shop.example.com}\n"
    )
    staging = resolve(parse_platform(spec, "shop.yaml"), "shop.yaml").environments[0]
    web = staging.service("web")
    assert (staging.nodes.min, staging.nodes.max, staging.sizes.node, staging.sizes.database_storage) == \
        (2, 4, "t3.large", 50)
    assert (web.replicas.min, web.replicas.max) == (1, 3)
    assert (web.cpu_request, web.cpu_limit, web.memory_request, web.memory_limit) == ("250m", "1", "1Gi", "1Gi")
    assert web.config["LOG_LEVEL"] == "debug"
    assert web.public_host == "preview.shop.example.com"


def test_public_hosts_outside_production_get_the_environment_in_their_name() -> None:
    spec = FIVE_LINES + "    public: {host: www.shop.example.com}\n"
    plans = {env.name: env for env in resolve(parse_platform(spec, "s.yaml"), "s.yaml").environments}
    assert plans["production"].service("web").public_host == "www.shop.example.com"
    assert plans["staging"].service("web").public_host == "www.staging.shop.example.com"


def test_the_bundled_spec_describes_the_seed_system() -> None:
    platform = load_platform(SPECS / "business-app.yaml")
    assert {name: s.port for name, s in platform.services.items()} == {
        "api-gateway": 3000, "auth-service": 3001, "business-service": 3002,
        "inventory-service": 3003, "invoice-service": 3004}
    gateway = platform.services["api-gateway"]
    assert gateway.public and gateway.public.host == "api.business-app.com"
    assert (gateway.replicas.min, gateway.replicas.max) == (3, 10)
    assert set(gateway.calls) == set(platform.services) - {"api-gateway"}
    assert all(s.replicas.min == 2 for n, s in platform.services.items() if n != "api-gateway")
    production = platform.environments["production"]
    assert production.rollout == "blue-green" and production.highly_available
    assert (platform.region, platform.network.cidr, platform.network.zones) == ("ap-south-1", "10.0.0.0/16", 2)
    assert platform.datastores["postgres"].version == "15" and platform.datastores["redis"].version == "7"
    assert (platform.backups.schedule, platform.backups.keep) == ("0 2 * * *", "30d")
    plan = resolve(platform, "specs/business-app.yaml")
    assert plan.environments[1].datastore("postgres").databases == (
        "auth_service", "business_service", "inventory_service", "invoice_service")


def test_the_committed_json_schema_is_current() -> None:
    committed = json.loads((ROOT / "schema" / "bizinfra.schema.json").read_text())
    assert committed == json_schema(), "run: python -m bizinfra schema > schema/bizinfra.schema.json"


def test_the_json_schema_accepts_the_bundled_specs_and_rejects_unknown_keys() -> None:
    validator = jsonschema.Draft202012Validator(json_schema())
    for spec in sorted(SPECS.glob("*.yaml")):
        assert list(validator.iter_errors(yaml.safe_load(spec.read_text()))) == []
    assert not validator.is_valid({"name": "shop", "domain": "shop.example.com", "services": {"web": {"prot": 1}}})


def test_a_platform_built_in_python_is_validated_the_same_way() -> None:
    from pydantic import ValidationError

    from bizinfra.spec.models import Platform

    with pytest.raises(ValidationError, match=r"services.web.calls\[0\]: no service named 'api'"):
        Platform.model_validate({"name": "shop", "domain": "shop.example.com",
                                 "services": {"web": {"calls": ["api"]}}})


def test_a_missing_spec_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        load_platform(tmp_path / "nothing.yaml")
