"""Alert routing: Alertmanager's configuration from the spec's receivers, pages, tickets and heartbeat, judged by
amtool (`check-config`, `config routes test`), with the Secret it reads its receivers' keys from and the Secrets
Manager secrets behind it."""

from __future__ import annotations

import fnmatch
import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings

from bizinfra.naming import NULL_RECEIVER
from bizinfra.plan import EnvironmentPlan
from bizinfra.render import to_yaml
from bizinfra.spec.models import Platform
from bizinfra.targets.kubernetes.manifests import manifest_files
from bizinfra.targets.monitoring import alertmanager_config, receivers_secret_name
from bizinfra.targets.monitoring.alerting import HEARTBEAT_ALERT, SYMPTOMS_OF_SERVICE_DOWN, routing_expectations
from bizinfra.targets.monitoring.rules import rule_groups
from bizinfra.targets.terraform.policies import secrets_reader
from bizinfra.targets.terraform.secrets import secrets
from bizinfra.validate import alertmanager
from bizinfra.validate import tree as validate_tree
from tests.strategies import platform_specs
from tests.support import bundled_plan, bundled_platform, plan_of, require_tool, run

MOUNT = "/etc/alertmanager/secrets"


def production(platform: Platform | None = None) -> EnvironmentPlan:
    plan = plan_of(platform) if platform else bundled_plan()
    return next(env for env in plan.environments if env.name == "production")


def without_receivers() -> Platform:
    platform = bundled_platform()
    monitoring = platform.monitoring.model_copy(update={"receivers": {}, "pages": (), "tickets": (), "heartbeat": None})
    return platform.model_copy(update={"monitoring": monitoring})


def alerts(env: EnvironmentPlan) -> dict[str, dict[str, str]]:
    return {rule["alert"]: rule["labels"] for group in rule_groups(env) for rule in group["rules"] if "alert" in rule}


# -- the configuration -------------------------------------------------------------------------------------------


def test_pages_tickets_and_the_heartbeat_are_routed_apart() -> None:
    routes = alertmanager_config(production())["route"]["routes"]
    assert [(r["receiver"], r["matchers"], r.get("continue", False)) for r in routes] == [
        ("dead-mans-switch", ['alertname="Watchdog"'], False),
        ("on-call", ['severity="critical"'], True),  # the bundled spec pages on-call and team-chat
        ("team-chat", ['severity="critical"'], False),
        ("team-chat", ['severity="warning"'], False),
    ]
    assert routes[0]["repeat_interval"] == "1m"


def test_with_no_receivers_everything_goes_to_the_null_receiver() -> None:
    config = alertmanager_config(production(without_receivers()))
    assert config["route"]["receiver"] == NULL_RECEIVER and config["route"]["routes"] == []
    assert config["receivers"] == [{"name": NULL_RECEIVER}]


def test_inhibition_names_alerts_the_rules_raise_with_the_labels_it_matches_on() -> None:
    """A rule renamed, or ServiceDown losing its namespace, would silently stop the inhibition."""
    env = production()
    raised = alerts(env)
    assert set(SYMPTOMS_OF_SERVICE_DOWN) <= set(raised)
    assert {"severity", "namespace", "service"} <= set(raised["ServiceDown"])
    assert raised["ServiceDown"]["namespace"] == env.namespace
    rules = alertmanager_config(env)["inhibit_rules"]
    named = {matcher.split('"')[1] for rule in rules for matcher in rule["source_matchers"] if "alertname" in matcher}
    assert named <= set(raised)


def test_every_receiver_reads_its_secret_from_the_mounted_secret_and_holds_no_value() -> None:
    env = production()
    secret = receivers_secret_name(env)
    files = {receiver["name"]: value for receiver in alertmanager_config(env)["receivers"]
             for configs in receiver.values() if isinstance(configs, list)
             for item in configs for field, value in item.items() if field.endswith("_file")}
    assert files == {r.name: f"{MOUNT}/{secret}/{r.name}" for r in env.alerting.receivers}
    assert not any(field in to_yaml(alertmanager_config(env)) for field in ("api_url:", "routing_key:", " url:"))


# -- the Secret and what is behind it -----------------------------------------------------------------------------


def test_one_external_secret_in_the_stack_namespace_fills_one_key_per_receiver() -> None:
    env = production()
    documents = dict(manifest_files(env))["secrets.yaml"]
    (secret,) = [d for d in documents if d["metadata"]["name"] == receivers_secret_name(env)]
    assert secret["metadata"]["namespace"] == env.monitoring_stack.namespace
    assert secret["spec"]["target"]["name"] == receivers_secret_name(env)
    assert {item["secretKey"]: (item["remoteRef"]["key"], item["remoteRef"]["property"])
            for item in secret["spec"]["data"]} == {
        "dead-mans-switch": ("business-app/production/alerting/dead-mans-switch", "url"),
        "on-call": ("business-app/production/alerting/on-call", "routing_key"),
        "team-chat": ("business-app/production/alerting/team-chat", "url"),
    }
    (store,) = [d for d in documents if d["kind"] == "ClusterSecretStore"]
    assert store["spec"]["conditions"] == [{"namespaces": [env.namespace, env.monitoring_stack.namespace]}]


def test_without_receivers_the_store_admits_only_the_platform_namespace() -> None:
    env = production(without_receivers())
    documents = dict(manifest_files(env))["secrets.yaml"]
    assert [d["metadata"]["name"] for d in documents if d["kind"] == "ExternalSecret"
            and d["metadata"]["name"] == receivers_secret_name(env)] == []
    (store,) = [d for d in documents if d["kind"] == "ClusterSecretStore"]
    assert store["spec"]["conditions"] == [{"namespaces": [env.namespace]}]


def test_terraform_creates_each_receiver_secret_empty_and_the_operator_may_read_it() -> None:
    env = production()
    resources = secrets(env)["resource"]
    created = {body["name"]: label for label, body in resources["aws_secretsmanager_secret"].items()}
    for receiver in env.alerting.receivers:
        label = created[receiver.secret]
        version = resources["aws_secretsmanager_secret_version"][label]
        assert json.loads(version["secret_string"]) == {receiver.secret_property: ""}
        assert version["lifecycle"] == {"ignore_changes": ["secret_string"]}
        (readable,) = [s["resources"] for s in secrets_reader(env) if s["sid"] == "ReadOwnSecrets"]
        arn = f"arn:aws:secretsmanager:{env.region}:123456789012:secret:{receiver.secret}-AbCdEf"
        known = {"${data.aws_partition.current.partition}": "aws",
                 "${data.aws_caller_identity.current.account_id}": "123456789012"}
        patterns = [functools.reduce(lambda text, ref: text.replace(ref, known[ref]), known, p) for p in readable]
        assert any(fnmatch.fnmatchcase(arn, pattern) for pattern in patterns), readable


# -- amtool ------------------------------------------------------------------------------------------------------


def judged(config: dict[str, Any], expectations: dict[str, Any], folder: Path) -> list[str]:
    """validate's amtool judge on one environment's files: check-config, then every routing expectation."""
    (folder / "scratch").mkdir(exist_ok=True)
    (folder / "alertmanager.yml").write_text(to_yaml(config))
    (folder / "alertmanager.routes.yml").write_text(to_yaml(expectations))

    def amtool(command: list[str]) -> tuple[int, str]:
        result = run(command)
        return result.returncode, result.stdout + result.stderr
    problems, _ = alertmanager.check(require_tool("amtool"), folder / "alertmanager.yml",
                                     folder / "alertmanager.routes.yml", amtool, "alertmanager.yml", folder / "scratch")
    return problems


def amtool_checks(env: EnvironmentPlan, folder: Path) -> list[str]:
    return judged(alertmanager_config(env), routing_expectations(env), folder)


def routed(amtool: str, config: Path, labels: dict[str, str], expected: list[str]) -> bool:
    result = run([amtool, "config", "routes", "test", f"--config.file={config}",
                  f"--verify.receivers={','.join(expected)}", *(f"{k}={v}" for k, v in labels.items())])
    return result.returncode == 0


def test_the_bundled_configurations_pass_amtool(tmp_path: Path) -> None:
    for platform in (bundled_platform(), without_receivers()):
        for env in plan_of(platform).on("kubernetes"):
            assert amtool_checks(env, tmp_path) == [], env.name


def test_a_misrouted_alert_fails_the_routes_test(tmp_path: Path) -> None:
    """The failure path: a page sent to the ticket receiver only is named, with what it reached."""
    env = production()
    config = alertmanager_config(env)
    config["route"]["routes"] = [r for r in config["route"]["routes"] if r["receiver"] != "on-call"]
    assert "alertmanager.yml: amtool config routes test: HighErrorRate (critical) reaches team-chat, expected " \
           "on-call,team-chat" in judged(config, routing_expectations(env), tmp_path)


def test_a_configuration_amtool_refuses_is_named(tmp_path: Path) -> None:
    config = alertmanager_config(production())
    config["route"]["routes"][1]["receiver"] = "nobody-declared"
    (problem,) = judged(config, {"tests": []}, tmp_path)
    assert problem.startswith("alertmanager.yml: amtool check-config: ") and "nobody-declared" in problem


def test_validate_reports_a_misrouted_tree(tmp_path: Path) -> None:
    require_tool("amtool")
    folder = tmp_path / "business-app" / "monitoring" / "production"
    folder.mkdir(parents=True)
    env = production()
    config = alertmanager_config(env)
    config["route"]["routes"][-1]["receiver"] = "on-call"  # warnings paging the on-call
    (folder / "alertmanager.yml").write_text(to_yaml(config))
    (folder / "alertmanager.routes.yml").write_text(to_yaml(routing_expectations(env)))
    check = validate_tree.amtool(validate_tree.read_tree(tmp_path))
    assert check.status == "failed"
    assert any("HighLatency (warning) reaches on-call, expected team-chat" in line for line in check.problems)


@pytest.mark.slow
@settings(max_examples=6)
@given(platform_specs(max_services=3))
def test_any_platform_routes_pages_tickets_and_the_heartbeat_as_its_spec_says(spec: dict[str, Any]) -> None:
    """What each severity must reach is read from the spec drawn, not from the route tree."""
    amtool = require_tool("amtool")
    monitoring = spec["monitoring"]
    expected = {"critical": monitoring.get("pages") or [NULL_RECEIVER],
                "warning": monitoring.get("tickets") or [NULL_RECEIVER],
                "none": [monitoring.get("heartbeat") or NULL_RECEIVER]}
    env = plan_of(Platform.model_validate(spec)).on("kubernetes")[-1]  # receivers are the same in every environment
    with tempfile.TemporaryDirectory() as folder:
        assert judged(alertmanager_config(env), {"tests": []}, Path(folder)) == []
        config = Path(folder) / "scratch" / "alertmanager.yml"  # as this amtool reads it (see `alertmanager.check`)
        cases = [(labels["severity"], {"alertname": name, **labels}) for name, labels in alerts(env).items()]
        cases.append(("none", {"alertname": HEARTBEAT_ALERT, "severity": "none"}))
        for severity, labels in cases:
            assert routed(amtool, config, labels, expected[severity]), (labels, expected[severity],
                                                                         yaml.safe_dump(monitoring))
