"""Workers and cron jobs (`services.<n>.kind`): what the spec accepts, what each target makes of them, and the
invariants that catch a generated file that disagrees (one mutation per rule), on the bundled `tasks` spec."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
import yaml

import bizinfra
from bizinfra.pipeline import build_tree
from bizinfra.plan import EnvironmentPlan
from bizinfra.spec.loader import Spec, load_platform
from bizinfra.targets.compose.compose import compile_compose
from bizinfra.targets.github.workflows import deploy_job
from bizinfra.targets.kubernetes.network import network_policies
from bizinfra.targets.kubernetes.workloads import service_documents
from bizinfra.targets.monitoring.rules import rule_groups
from bizinfra.targets.monitoring.target import kubernetes_documents
from tests.support import SPECS, plan_of
from tests.support.rules import edit_yaml, problems

TASKS = "specs/tasks.yaml"
WORKLOADS = "tasks/kubernetes/staging/workloads.yaml"
POLICIES = "tasks/kubernetes/staging/network-policies.yaml"


@cache
def tasks_files() -> dict[str, bytes]:
    return build_tree([Spec(TASKS, load_platform(SPECS / "tasks.yaml"))]).files


def tasks_env(name: str) -> EnvironmentPlan:
    plan = plan_of(load_platform(SPECS / "tasks.yaml"))
    return next(env for env in plan.environments if env.name == name)


def spec_problems(services: str) -> list[str]:
    text = f"name: shop\ndomain: shop.example.com\nservices:\n{services}"
    with pytest.raises(bizinfra.SpecError) as caught:
        bizinfra.parse_spec(text, "specs/shop.yaml")
    return str(caught.value).splitlines()


# -- the spec ---------------------------------------------------------------------------------------------------------


def test_each_kind_refuses_what_it_cannot_have_at_its_line() -> None:
    assert spec_problems(
        "  web: {port: 8080, calls: [mailer]}\n"
        "  mailer: {kind: worker, public: {host: m.shop.example.com}}\n"
        "  nightly: {kind: cron, port: 9000}\n"
        "  plain: {port: 8081, schedule: '0 1 * * *'}\n") == [
        "specs/shop.yaml:4:29: services.web.calls[0]: 'mailer' is a worker, which takes no requests; only a web "
        "service can be called",
        "specs/shop.yaml:5:3: services.mailer.health_command: a worker needs a liveness check: health_command, or a "
        "port where it serves metrics",
        "specs/shop.yaml:5:34: services.mailer.public: a worker takes no requests, so it cannot be public",
        "specs/shop.yaml:6:3: services.nightly.schedule: a cron job needs a schedule, such as '0 3 * * *' (UTC)",
        "specs/shop.yaml:6:31: services.nightly.port: a cron job has no port; it runs once per schedule and listens "
        "to nothing",
        "specs/shop.yaml:7:33: services.plain.schedule: only a cron job (kind: cron) has a schedule",
    ]


def test_an_invalid_schedule_is_one_problem_at_it() -> None:
    assert spec_problems("  nightly: {kind: cron, schedule: '61 * * * *'}\n") == [
        "specs/shop.yaml:4:35: services.nightly.schedule: '61 * * * *' is not a valid cron schedule: minute '61' must "
        "lie within 0-59, ranges low to high"]


def test_ports_are_unique_only_among_what_listens() -> None:
    platform = bizinfra.parse_spec(
        "name: shop\ndomain: shop.example.com\nservices:\n  web: {port: 8080}\n"
        "  a: {kind: worker, health_command: 'true'}\n  b: {kind: worker, health_command: 'true'}\n"
        "  c: {kind: cron, schedule: '0 3 * * *'}\n", "specs/shop.yaml")
    assert [s.port for s in platform.platform.services.values()] == [8080, None, None, None]
    assert spec_problems("  web: {port: 8080}\n  a: {kind: worker, port: 8080}\n") == [
        "specs/shop.yaml:5:27: services.a.port: port 8080 is already used by services.web"]


# -- Kubernetes -------------------------------------------------------------------------------------------------------


def test_a_worker_runs_without_a_service_or_readiness_and_scales_on_cpu() -> None:
    env = tasks_env("production")  # blue-green: the worker still has one Deployment, rolled in place
    kinds = {(d["kind"], d["metadata"]["name"]) for d in service_documents(env, env.service("mailer"))}
    assert kinds == {("ServiceAccount", "mailer"), ("Deployment", "mailer"), ("HorizontalPodAutoscaler", "mailer")}
    deployment = next(d for d in service_documents(env, env.service("mailer")) if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "readinessProbe" not in container and "lifecycle" not in container
    assert container["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": 9464, "scheme": "HTTP"}


def test_a_worker_without_a_port_is_alive_by_its_command_and_takes_nothing_in() -> None:
    env = plan_of(bizinfra.parse_spec(
        "name: shop\ndomain: shop.example.com\nservices:\n  web: {port: 8080}\n"
        "  indexer: {kind: worker, health_command: 'test -f /tmp/alive'}\n", "specs/shop.yaml").platform)
    production = next(e for e in env.environments if e.name == "production")
    deployment = next(d for d in service_documents(production, production.service("indexer"))
                      if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "ports" not in container and "annotations" not in deployment["spec"]["template"]["metadata"]
    assert container["livenessProbe"]["exec"] == {"command": ["sh", "-c", "test -f /tmp/alive"]}
    policies = {p["metadata"]["name"]: p for p in network_policies(production)}
    assert "indexer-metrics" not in policies and policies["indexer-traffic"]["spec"]["ingress"] == []
    assert all(d["metadata"]["name"] != "indexer" for d in kubernetes_documents(production) if d["kind"] == "PodMonitor")


def test_a_cron_job_runs_on_its_schedule_in_utc_with_its_limits() -> None:
    env = tasks_env("staging")
    (account, cron_job) = service_documents(env, env.service("billing-sync"))
    assert account["kind"] == "ServiceAccount"
    spec = cron_job["spec"]
    assert (cron_job["kind"], spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == \
        ("CronJob", "30 2 * * *", "Etc/UTC", "Forbid")
    assert (spec["startingDeadlineSeconds"], spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == \
        (900, 3, 5)
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] == 1800
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert not {"ports", "livenessProbe", "readinessProbe", "startupProbe"} & set(container)


def test_a_cron_job_reaches_what_it_uses_and_calls_outside_and_nothing_reaches_it() -> None:
    env = tasks_env("staging")
    policy = next(p for p in network_policies(env) if p["metadata"]["name"] == "billing-sync-traffic")
    assert policy["spec"]["ingress"] == []
    assert {port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]} == {5432, 443}


# -- compose, monitoring, the deploy workflow -------------------------------------------------------------------------


def test_compose_runs_the_worker_and_keeps_the_cron_job_for_a_run_on_demand() -> None:
    (compose,) = [a.documents[0] for a in compile_compose(plan_of(load_platform(SPECS / "tasks.yaml")))
                  if a.path.endswith("docker-compose.yml")]
    services = compose["services"]
    assert services["billing-sync"]["profiles"] == ["jobs"] and "healthcheck" not in services["billing-sync"]
    assert "profiles" not in services["mailer"] and services["mailer"]["ports"] == ["127.0.0.1:9464:9464"]
    assert "ports" not in services["billing-sync"]


def test_a_failed_cron_run_opens_a_ticket_and_a_worker_is_no_request_service() -> None:
    env = tasks_env("production")
    rules = {rule["alert"]: rule for group in rule_groups(env) for rule in group["rules"] if "alert" in rule}
    failed = rules["CronJobFailed"]
    assert failed["labels"]["severity"] == "warning"
    assert 'kube_job_status_failed{namespace="tasks",job_name=~"(?:billing-sync)-[0-9]+"} > 0' in failed["expr"]
    assert "mailer" in rules["RequestMetricsMissing"]["expr"]  # scraped, but serves no requests: left out by name
    down = [rule["labels"]["service"] for rule in rule_groups(env)[2]["rules"] if rule["alert"] == "ServiceDown"]
    assert down == ["api", "mailer", "web"]


def test_blue_green_switches_the_web_services_and_rolls_the_worker() -> None:
    steps = [step["name"] for step in deploy_job(tasks_env("production"), "sha")["steps"]]
    assert "Roll out mailer" in steps and "Switch api to the new slot" in steps
    assert not [step for step in steps if "billing-sync" in step or "Switch mailer" in step]


# -- the invariants, one mutation per rule ----------------------------------------------------------------------------


def cron_pod(document: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = document["spec"]["jobTemplate"]["spec"]["template"]
    return pod


def test_the_tasks_tree_passes_every_invariant() -> None:
    assert problems(tasks_files()) == []


@pytest.mark.parametrize(("rule", "change", "problem"), [
    ("ports agree", lambda d: cron_pod(d)["spec"]["containers"][0].update(ports=[{"containerPort": 8080}]),
     "container billing-sync port is 8080, but billing-sync listens on no port"),
    ("images are pinned", lambda d: cron_pod(d)["spec"]["containers"][0].update(image="billing-sync:latest"),
     "container billing-sync runs 'billing-sync:latest', not a pinned tag"),
    ("secrets are references", lambda d: cron_pod(d)["spec"]["containers"][0]["envFrom"][2]["secretRef"].update(
        name="stripe"), "reads Secret stripe, which no ExternalSecret creates"),
    ("names agree across targets", lambda d: cron_pod(d)["spec"].update(serviceAccountName="billing"),
     "runs as ServiceAccount billing, which is not generated"),
    ("labels reach their objects", lambda d: cron_pod(d)["metadata"]["labels"].pop("bizinfra.dev/environment"),
     "pod template labels lack bizinfra.dev/environment=staging"),
])
def test_a_cron_job_that_disagrees_is_named(rule: str, change: Any, problem: str) -> None:
    files = edit_yaml(tasks_files(), WORKLOADS, "CronJob", "billing-sync", change)
    assert f"{WORKLOADS}: CronJob/billing-sync: {problem}" in problems(files, rule)


def test_ingress_to_a_cron_job_and_a_lost_egress_are_named() -> None:
    api = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "api", "app.kubernetes.io/part-of": "tasks"}}}

    def open_and_cut(policy: dict[str, Any]) -> None:
        policy["spec"].update(ingress=[{"from": [api], "ports": [{"protocol": "TCP", "port": 8080}]}],
                              egress=policy["spec"]["egress"][1:])
    files = edit_yaml(tasks_files(), POLICIES, "NetworkPolicy", "billing-sync-traffic", open_and_cut)
    assert problems(files, "network edges match the declared ones") == [
        f"{POLICIES}: NetworkPolicy/billing-sync-traffic: allows ingress api -> billing-sync:8080, which the spec "
        "does not declare",
        f"{POLICIES}: NetworkPolicy: no policy allows egress billing-sync -> postgres:5432, which the spec declares"]


def test_a_worker_given_a_service_port_is_named() -> None:
    files = edit_yaml(tasks_files(), WORKLOADS, "Deployment", "mailer",
                      lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(containerPort=9000))
    assert f"{WORKLOADS}: Deployment/mailer: container mailer port is 9000, but mailer's port is 9464" in \
        problems(files, "ports agree")


def test_the_tasks_spec_is_what_its_generated_files_say() -> None:
    """The bundled files are current (`check` runs over every bundled spec in CI; this keeps the failure local)."""
    compose = yaml.safe_load(tasks_files()["tasks/compose/docker-compose.yml"])
    assert set(compose["services"]) >= {"web", "api", "mailer", "billing-sync"}
