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
from tests.support import ROOT, SPECS

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
    assert staging.service_config(web)["LOG_LEVEL"] == "debug"
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


def test_a_declared_default_environment_keeps_the_default_settings_it_does_not_state() -> None:
    spec = FIVE_LINES + "environments:\n  production: {rollout: blue-green}\n  staging: {}\n  development: {}\n"
    environments = parse_platform(spec, "shop.yaml").environments
    production = environments["production"]
    assert (production.nodes.min, production.highly_available, production.rollout) == (3, True, "blue-green")
    assert environments["development"].runs_on == "compose"
    assert production.branch is None and environments["staging"].branch is None, "what deploys is written down"


def test_what_a_declared_environment_states_wins_over_the_defaults() -> None:
    spec = FIVE_LINES + "environments:\n  production: {nodes: {min: 2, max: 4}, highly_available: false}\n"
    production = parse_platform(spec, "shop.yaml").environments["production"]
    assert (production.nodes.min, production.highly_available) == (2, False)
    assert parse_platform(FIVE_LINES + "environments:\n  production: {production: false}\n", "s.yaml") \
        .environments["production"].highly_available is False


def test_an_environment_named_like_production_that_says_so_is_production() -> None:
    spec = FIVE_LINES + "environments:\n  prod: {production: true}\n  prod-copy: {production: false}\n"
    plan = resolve(parse_platform(spec, "shop.yaml"), "shop.yaml")
    assert [(env.name, env.production) for env in plan.environments] == [("prod", True), ("prod-copy", False)]


def test_every_variable_the_plan_generates_is_known_to_the_spec_checks() -> None:
    from bizinfra.spec.models import generated_variables

    spec = FIVE_LINES + ("    calls: [auth-service]\n    uses: [db, cache]\n    secrets: [JWT_SECRET]\n"
                         "  auth-service: {port: 8081}\n"
                         "datastores:\n  db: {engine: postgres, version: '15'}\n  cache: {engine: redis, version: '7'}\n")
    platform = parse_platform(spec, "shop.yaml")
    known = generated_variables(platform.services["web"], platform.datastores)
    for env in resolve(platform, "shop.yaml").environments:
        web = env.service("web")
        assert set(env.service_config(web)) | set(env.config) <= known.keys()
        assert {ref.variable for ref in web.secrets} - {"JWT_SECRET"} <= known.keys()


@pytest.mark.parametrize("schedule", ["0 2 * * *", "*/15 0-6 1,15 * *", "30 3 * JAN-MAR mon-fri", "0 0 1 */3 0",
                                      "5/10 * * * SUN,SAT"])
def test_cron_schedules_in_velero_s_syntax_are_accepted(schedule: str) -> None:
    spec = FIVE_LINES + f"backups: {{schedule: '{schedule}'}}\n"
    assert parse_platform(spec, "shop.yaml").backups.schedule == schedule


@pytest.mark.parametrize("schedule", ["61 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 7",
                                      "5-1 * * * *", "*/0 * * * *", "* * * * MONDAY", "1,,2 * * * *"])
def test_cron_fields_out_of_range_are_refused(schedule: str) -> None:
    with pytest.raises(SpecError, match="is not a valid cron schedule"):
        parse_platform(FIVE_LINES + f"backups: {{schedule: '{schedule}'}}\n", "shop.yaml")


@pytest.mark.parametrize("image", ["web", "ghcr.io/acme/web", "localhost:5000/web", "registry.example.com:443/a/b-c"])
def test_image_repositories_with_a_registry_port_are_accepted(image: str) -> None:
    platform = parse_platform(FIVE_LINES + f"    image: {image}\n", "shop.yaml")
    assert resolve(platform, "s.yaml").environments[0].service("web").image == image


@pytest.mark.parametrize("image", ["web:1.4.2", "localhost:5000/web:latest", "ghcr.io/acme/web@sha256:abc"])
def test_an_image_with_a_tag_or_digest_is_refused(image: str) -> None:
    with pytest.raises(SpecError, match="has a tag or digest; write the repository alone"):
        parse_platform(FIVE_LINES + f"    image: {image}\n", "shop.yaml")


@pytest.mark.parametrize("version", ["07", "015", "7.01", "99999999999"])
def test_a_datastore_version_is_written_without_leading_zeros(version: str) -> None:
    spec = FIVE_LINES + f"datastores:\n  cache: {{engine: redis, version: '{version}'}}\n"
    with pytest.raises(SpecError, match=r"version such as '15' or '7\.1', without leading zeros"):
        parse_platform(spec, "shop.yaml")


@pytest.mark.parametrize("command", ["npm ci\nrm -rf /", "npm test -- --grep 'a", "echo ${{ secrets.X }}", " "])
def test_a_delivery_command_is_one_line_the_shell_can_read(command: str) -> None:
    spec = FIVE_LINES + f"delivery: {{install: {json.dumps(command)}}}\n"
    with pytest.raises(SpecError, match=r"delivery\.install"):
        parse_platform(spec, "shop.yaml")
