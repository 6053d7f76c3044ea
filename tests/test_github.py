"""The GitHub Actions target, judged by actionlint (with shellcheck), the SchemaStore workflow schema and checkov."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bizinfra.plan import SLOT_LABEL, PlatformPlan, resolve
from bizinfra.render import render
from bizinfra.spec.loader import load_platform, load_specs
from bizinfra.spec.models import Platform
from bizinfra.targets.github import compile_github
from bizinfra.targets.github.actions import ACTIONS
from bizinfra.targets.github.rollout import RESTORE_STEP
from bizinfra.targets.github.workflows import DEPLOY_LIMIT_MINUTES
from bizinfra.targets.kubernetes import compile_kubernetes
from bizinfra.validate.tree import WorkflowLoader
from tests.strategies import platforms
from tests.support import ROOT, SPECS, bundled_tree, require_tool
from tests.support.deploy_runner import calls, cluster, run_step

os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

SCHEMA = json.loads((ROOT / "src/bizinfra/data/reference/json-schemas/github-workflow.json").read_text())
PROJECT_CI = ROOT / ".github/workflows/ci.yml"
# actionlint's opt-in policies make it a second judge of what this target promises on every job.
POLICY = "policy:\n  require-job-timeout: true\n  require-permissions:\n    scope: job\n"
CHECKOV_SKIPS = {"CKV_GHA_7"}  # explained in docs/github.md


def bundled() -> PlatformPlan:
    (spec,) = load_specs(SPECS / "business-app.yaml", shown_as="specs/business-app.yaml")
    return resolve(spec.platform, spec.source)


def files(plan: PlatformPlan) -> dict[str, bytes]:
    return {Path(a.path).name: render(a, plan.source) for a in compile_github(plan)}


def workflows(plan: PlatformPlan) -> dict[str, dict[str, Any]]:
    return {name: yaml.load(text, Loader=WorkflowLoader) for name, text in files(plan).items()}


def write(folder: Path, plan: PlatformPlan) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files(plan).items():
        (folder / name).write_bytes(text)
        paths.append(folder / name)
    return paths


def actionlint(paths: list[Path], tmp: Path, policy: str = POLICY) -> str:
    """actionlint's findings; empty when it passes. Paths are explicit: outside a git repository a bare run exits 3."""
    shellcheck = require_tool("shellcheck")
    config = tmp / "actionlint.yaml"
    config.write_text(policy)
    result = subprocess.run([require_tool("actionlint"), "-oneline", "-shellcheck", shellcheck, "-config-file",
                             str(config), *map(str, paths)], capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    return result.stdout + result.stderr


def schema_errors(document: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in jsonschema.Draft7Validator(SCHEMA).iter_errors(document)]


def jobs(plan: PlatformPlan) -> list[tuple[str, str, dict[str, Any]]]:
    return [(name, job_id, job) for name, doc in workflows(plan).items() for job_id, job in doc["jobs"].items()]


def deploy_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Steps that name a Deployment: literally (DEPLOYMENT, DEPLOYMENT_BLUE ...) rather than by a step output."""
    return [step for step in job["steps"]
            if any(key.startswith("DEPLOYMENT") and "${{" not in value for key, value in step.get("env", {}).items())]


def environment_name(job: dict[str, Any]) -> str | None:
    environment = job.get("environment")
    return environment["name"] if isinstance(environment, dict) else environment


def migrated(plan: PlatformPlan) -> bool:
    """A service with a database that runs (a cron job's database is migrated by the deploy, not by hand)."""
    return any(service.database and service.deployments for env in plan.environments for service in env.services)


def named_deployments(plan: PlatformPlan) -> set[tuple[str, str]]:
    """(namespace, Deployment) pairs that the deploy and migration jobs name, per the job's NAMESPACE."""
    pairs = set()
    for _, _, job in jobs(plan):
        for step in deploy_steps(job):
            for key, value in step["env"].items():
                if key == "IMAGES":  # `<deployment> <image> <slot>` lines of the release's images
                    pairs |= {(job["env"]["NAMESPACE"], line.split()[0]) for line in value.splitlines()}
                elif key.startswith("DEPLOYMENT"):
                    pairs.add((job["env"]["NAMESPACE"], value))
    return pairs


# -- property tests over random platforms ---------------------------------------------------------------


@given(platforms())
def test_build_matrix_is_the_service_list(platform: Platform) -> None:
    plan = resolve(platform, "specs/random.yaml")
    matrix = workflows(plan)["ci-cd.yml"]["jobs"]["build"]["strategy"]["matrix"]
    assert sorted(matrix["service"]) == sorted(platform.services)
    assert {entry["service"]: entry["image"] for entry in matrix["include"]} == {
        service.name: service.image for service in plan.environments[0].services}


def health_arg(spec: Any) -> str:
    """What the image's health check reads: a web service's health path, a worker's metrics path, nothing without a
    port."""
    if spec.port is None:
        return ""
    return spec.health if spec.kind == "web" else spec.metrics


@given(platforms())
def test_build_passes_each_service_its_build_args_and_the_platforms_one_dockerfile(platform: Platform) -> None:
    plan = resolve(platform, "specs/random.yaml")
    build = workflows(plan)["ci-cd.yml"]["jobs"]["build"]
    passed = {entry["service"]: dict(line.split("=", 1) for line in entry["build-args"].splitlines())
              for entry in build["strategy"]["matrix"]["include"]}
    assert {name: (args["PORT"], args["HEALTH_PATH"]) for name, args in passed.items()} == {
        name: (str(spec.port or ""), health_arg(spec)) for name, spec in platform.services.items()}
    assert {name: dict(args) for name, args in passed.items()} == {
        service.name: dict(service.build_args) for service in plan.environments[0].services}
    app, migration = [step for step in build["steps"] if step.get("uses", "").startswith("docker/build-push-action@")]
    for step in (app, migration):
        assert step["with"]["build-args"] == "${{ matrix.build-args }}"
        assert step["with"]["file"] == f"generated/{platform.name}/docker/Dockerfile"
    # the migration image: the Dockerfile's migrate stage, for the services with a database only
    assert "target" not in app["with"] and migration["with"]["target"] == "migrate"
    assert migration["if"] == "matrix.migrations"
    with_database = {s.name for env in plan.on("kubernetes") for s in env.services if s.database}
    assert {e["service"] for e in build["strategy"]["matrix"]["include"] if e["migrations"]} == with_database


@pytest.mark.slow
@given(platforms())
def test_deploy_steps_name_deployments_of_the_plan(platform: Platform) -> None:
    plan = resolve(platform, "specs/random.yaml")
    declared = {(env.namespace, deployment) for env in plan.on("kubernetes")
                for service in env.services for deployment in service.deployments}
    named = named_deployments(plan)
    assert named <= declared
    # every Deployment of a branch-deployed environment gets a step
    deployed = {(env.namespace, d) for env in plan.on("kubernetes") if env.deploy.branch
                for service in env.services for d in service.deployments}
    assert deployed <= named


@pytest.mark.slow
@given(platforms())
def test_deploy_steps_name_deployments_in_the_kubernetes_output(platform: Platform) -> None:
    plan = resolve(platform, "specs/random.yaml")
    manifests = [doc for artifact in compile_kubernetes(plan) if artifact.format == "yaml"
                 for doc in artifact.documents if isinstance(doc, dict)]
    existing = {(doc["metadata"]["namespace"], doc["metadata"]["name"]) for doc in manifests
                if doc.get("kind") == "Deployment"}
    assert named_deployments(plan) <= existing
    assert named_deployments(plan)


@given(platforms())
def test_every_job_states_timeout_permissions_and_runner(platform: Platform) -> None:
    plan = resolve(platform, "specs/random.yaml")
    for name, doc in workflows(plan).items():
        assert doc["permissions"] == {}, name
        for job_id, job in doc["jobs"].items():
            # a deploy job's limit is the sum of its steps' (test_deploy_steps_fail_at_their_own_limits...)
            assert 0 < job["timeout-minutes"] <= (JOB_LIMIT_MINUTES if job_id.startswith("deploy-") else 60), job_id
            assert isinstance(job["permissions"], dict), (name, job_id)
            assert "write-all" not in json.dumps(job["permissions"])


def kubectl_seconds(duration: str) -> int:
    number, unit = int(duration[:-1]), duration[-1]
    return number * {"s": 1, "m": 60, "h": 3600}[unit]


def worst_case_seconds(step: dict[str, Any]) -> int:
    """What a deploy step's waits may take at worst, read from the step as generated: its kubectl timeouts, its
    polling of a Job, its drain, the restore's budget, and its curl's tries and delays."""
    env, run = step.get("env", {}), step.get("run", "")
    seconds = kubectl_seconds(env["TIMEOUT"]) * run.count('--timeout "$TIMEOUT"') if "TIMEOUT" in env else 0
    seconds += sum(int(env.get(name, 0)) for name in ("WAIT_SECONDS", "POLL_SECONDS", "DRAIN_SECONDS",
                                                        "BUDGET_SECONDS"))
    for curl in re.findall(r"curl .*", run):
        retries, delay, limit = (int(re.search(rf"{flag} (\d+)", curl)[1])  # type: ignore[index]
                                 for flag in ("--retry", "--retry-delay", "--max-time"))
        seconds += (retries + 1) * limit + retries * delay
    return seconds


# GitHub's limits (docs.github.com, "Workflow cancellation reference" and "Usage limits"): after a cancellation, the
# steps that still run are ended after 5 minutes; the step being cancelled gets 7.5 s of SIGINT and 2.5 s of SIGTERM
# first. A job on a GitHub-hosted runner runs for 6 hours at most.
CANCELLATION_SECONDS = 5 * 60
SIGNAL_SECONDS = 10
JOB_LIMIT_MINUTES = 6 * 60


@given(platforms())
def test_deploy_steps_fail_at_their_own_limits_within_the_job_s_and_the_restore_fits_a_cancellation(
        platform: Platform) -> None:
    """Each deploy step's limit covers its worst-case waits (plus a minute for its quick calls), so a hung step fails
    and the restore runs; the job's limit covers every step at its limit, so the job is never cancelled for a slow
    but working release; and the restore's every wait fits in what GitHub leaves a cancelled job."""
    plan = resolve(platform, "specs/random.yaml")
    for job_id, job in workflows(plan)["ci-cd.yml"]["jobs"].items():
        if not job_id.startswith("deploy-"):
            continue
        for step in job["steps"]:
            assert step["timeout-minutes"] * 60 >= worst_case_seconds(step) + 60, (job_id, step["name"])
        steps_minutes = sum(step["timeout-minutes"] for step in job["steps"])
        assert job["timeout-minutes"] > steps_minutes or job["timeout-minutes"] == DEPLOY_LIMIT_MINUTES
        assert job["timeout-minutes"] + CANCELLATION_SECONDS // 60 < JOB_LIMIT_MINUTES
        # the AWS session kubectl signs in with lasts the whole job, the restore included (the action's default: 1 h)
        (sign_in,) = [step for step in job["steps"] if "configure-aws-credentials" in step.get("uses", "")]
        assert sign_in["with"]["role-duration-seconds"] >= job["timeout-minutes"] * 60
        for restore in [step for step in job["steps"] if step["name"] == RESTORE_STEP]:
            assert restore["if"] == "failure() || cancelled()"
            assert SIGNAL_SECONDS + worst_case_seconds(restore) < CANCELLATION_SECONDS
            assert restore["timeout-minutes"] * 60 <= CANCELLATION_SECONDS


def test_a_deploy_whose_steps_outlast_github_s_six_hours_is_cancelled_in_time_to_restore(tmp_path: Path) -> None:
    """Twelve migrated blue-green services: their steps' limits add up past the hosted runner's six hours, where
    GitHub terminates a job without a cancellation (no restore). The job's own limit cancels it first, with the
    restore's five minutes to spare."""
    spec = yaml.safe_load((SPECS / "business-app.yaml").read_text())
    template = spec["services"]["auth-service"]
    for number in range(8):
        spec["services"][f"extra-{number}"] = {**copy.deepcopy(template), "port": 3100 + number}
    for environment in ("staging", "production"):
        spec["environments"][environment]["nodes"] = {"min": 3, "max": 40}
    (tmp_path / "many.yaml").write_text(yaml.safe_dump(spec))
    plan = resolve(load_platform(tmp_path / "many.yaml"), "many.yaml")
    job = workflows(plan)["ci-cd.yml"]["jobs"]["deploy-production"]
    assert sum(step["timeout-minutes"] for step in job["steps"]) + CANCELLATION_SECONDS // 60 > JOB_LIMIT_MINUTES
    assert job["timeout-minutes"] + CANCELLATION_SECONDS // 60 < JOB_LIMIT_MINUTES
    (restore,) = [step for step in job["steps"] if step["name"] == RESTORE_STEP]
    assert restore["if"] == "failure() || cancelled()"


def test_the_bundled_production_deploy_s_time_limits() -> None:
    """The numbers, for a reader: 10 minutes a rollout, 4 minutes a smoke test; the restore's 4-minute budget."""
    job = workflows(bundled())["ci-cd.yml"]["jobs"]["deploy-production"]
    limits = {step["name"]: step["timeout-minutes"] for step in job["steps"]}
    assert limits["Deploy api-gateway to its idle slot"] == 11
    assert limits["Smoke test api-gateway on its idle slot"] == 4  # 11 tries of 10 s, 10 delays of 3 s: 140 s
    assert limits["Wait until the new slot of api-gateway is a healthy load balancer target"] == 11
    assert limits["Switch api-gateway to the new slot"] == 2
    assert limits[RESTORE_STEP] == 5
    assert worst_case_seconds(job["steps"][-1]) == 240
    assert job["timeout-minutes"] == sum(limits.values()) + 5
    # the deploy role allows a session that long
    (sign_in,) = [step for step in job["steps"] if "configure-aws-credentials" in step.get("uses", "")]
    role = json.loads(bundled_tree()["business-app/terraform/production/deploy.tf.json"])["resource"]["aws_iam_role"]
    assert role["deploy"]["max_session_duration"] >= sign_in["with"]["role-duration-seconds"] > 3600


@pytest.mark.slow
@given(platforms())
def test_deploys_use_the_environment_facts_and_queue_per_environment(platform: Platform) -> None:
    plan = resolve(platform, "specs/random.yaml")
    for env in plan.on("kubernetes"):
        lock = {"group": f"deploy-{env.qualified_name}", "cancel-in-progress": False}
        guarded = [job for name, _, job in jobs(plan) if environment_name(job) == env.name
                   and name != "infrastructure.yml"]
        assert len(guarded) == (2 if env.deploy.branch else 1) if migrated(plan) else (1 if env.deploy.branch else 0)
        for job in guarded:
            assert job["concurrency"] == lock
            assert job["env"] == {"AWS_REGION": env.region, "NAMESPACE": env.namespace}
            # Both check the repository out first: they apply the committed manifests (the migrate job its folder's
            # migration Jobs), so they read contents.
            deploys = job["name"].startswith("Deploy to ")
            assert job["steps"][0]["uses"].startswith("actions/checkout@")
            assume, cluster = job["steps"][1], job["steps"][2]
            assert assume["with"]["role-to-assume"].endswith(f":role/{env.deploy.role}")
            assert assume["with"]["aws-region"] == env.region
            assert cluster["env"] == {"CLUSTER": env.cluster_name}
            assert job["permissions"] == {"contents": "read", "id-token": "write"}, deploys


@given(platforms())
def test_only_environment_jobs_assume_a_deploy_role(platform: Platform) -> None:
    """A deploy or infrastructure role's trust names the GitHub environment (plan.deploy.subject): a job without one
    could not assume it. The plan and drift roles are assumed by jobs that declare none (they trust a pull request's
    or the drift branch's subject)."""
    plan = resolve(platform, "specs/random.yaml")
    account = "${{ vars.AWS_ACCOUNT_ID }}"
    roles: dict[str, str | None] = {}
    for env in plan.environments:
        roles |= {f"arn:aws:iam::{account}:role/{env.deploy.role}": env.name,
                  f"arn:aws:iam::{account}:role/{env.deploy.infra_role}": env.name,
                  f"arn:aws:iam::{account}:role/{env.deploy.plan_role}": None,
                  f"arn:aws:iam::{account}:role/{env.deploy.drift_role}": None}
    for _, job_id, job in jobs(plan):
        for step in job["steps"]:
            if "role-to-assume" in step.get("with", {}):
                assert roles[step["with"]["role-to-assume"]] == environment_name(job), job_id


@given(platforms())
def test_scripts_never_interpolate_expressions(platform: Platform) -> None:
    """Values reach scripts through env:, so nothing is pasted into a shell (stricter than actionlint's rule)."""
    plan = resolve(platform, "specs/random.yaml")
    for _, _, job in jobs(plan):
        for step in job["steps"]:
            assert "${{" not in step.get("run", "")


@given(platforms())
def test_smoke_tests_ask_each_service_s_readiness_path(platform: Platform) -> None:
    """An idle slot and a public host pass only if the service can serve: its readiness path, which may check its
    dependencies, never the liveness path, which must not."""
    plan = resolve(platform, "specs/random.yaml")
    deploys = workflows(plan)["ci-cd.yml"]["jobs"] if plan.on("kubernetes") else {}
    for env in plan.on("kubernetes"):
        if f"deploy-{env.name}" not in deploys:
            continue
        expected = {f"Smoke test {s.name} on its idle slot": s.probes.readiness for s in env.services if s.slots}
        expected |= {f"Smoke test https://{s.public_host}": s.probes.readiness for s in env.services if s.public_host}
        asked = {step["name"]: step["env"]["READINESS_PATH"] for step in deploys[f"deploy-{env.name}"]["steps"]
                 if step["name"].startswith("Smoke test")}
        assert asked == expected


@given(platforms())
def test_workflows_match_the_schema_and_render_identically(platform: Platform) -> None:
    plan = resolve(platform, "specs/random.yaml")
    for name, doc in workflows(plan).items():
        assert schema_errors(doc) == [], name
    assert files(plan) == files(resolve(platform, "specs/random.yaml"))


@settings(max_examples=4)
@given(st.lists(platforms(max_services=4), min_size=4, max_size=4))
def test_actionlint_passes_on_random_platforms(tmp_path_factory: pytest.TempPathFactory,
                                               batch: list[Platform]) -> None:
    tmp = tmp_path_factory.mktemp("actionlint")
    paths = [path for index, platform in enumerate(batch)
             for path in write(tmp / str(index), resolve(platform, "specs/random.yaml"))]
    assert actionlint(paths, tmp) == ""


# -- the bundled spec -----------------------------------------------------------------------------------


def test_bundled_spec_files() -> None:
    assert sorted(files(bundled())) == ["ci-cd.yml", "database-migration.yml", "infrastructure.yml"]


def test_the_actionlint_judge_runs_shellcheck_and_its_policies(tmp_path: Path) -> None:
    """The judge itself: an unquoted variable, a job without timeout or permissions, a tag pin are all reported."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
                   "      - uses: actions/checkout@v7\n      - run: echo $HOME\n")
    found = actionlint([bad], tmp_path, POLICY + "  require-commit-hash: true\n")
    for finding in ["SC2086", "timeout-minutes", '"permissions" is required', "not a commit SHA"]:
        assert finding in found, finding


def test_bundled_spec_passes_actionlint_with_commit_pins(tmp_path: Path) -> None:
    paths = write(tmp_path / "workflows", bundled())
    assert actionlint(paths, tmp_path, POLICY + "  require-commit-hash: true\n") == ""


def test_tag_pins_pass_actionlint_and_use_major_tags(tmp_path: Path) -> None:
    plan = bundled()
    tagged = dataclasses.replace(plan, delivery=plan.delivery.model_copy(update={"pin_actions": "tag"}))
    refs = {step["uses"] for _, _, job in jobs(tagged) for step in job["steps"] if "uses" in step}
    assert "actions/checkout@v7" in refs
    assert "docker/build-push-action@v7" in refs
    assert "aquasecurity/trivy-action@ed142fd0673e97e23eac54620cfb913e5ce36c25" in refs  # moved tags: always a commit
    assert actionlint(write(tmp_path / "workflows", tagged), tmp_path) == ""


def test_bundled_spec_passes_checkov(tmp_path: Path) -> None:
    """checkov scans only .github/workflows/; each skipped check is justified in docs/github.md."""
    checkov = require_tool("checkov")
    write(tmp_path / ".github/workflows", bundled())
    result = subprocess.run([checkov, "-d", str(tmp_path), "--framework", "github_actions", "--skip-download",
                             "--skip-check", ",".join(sorted(CHECKOV_SKIPS)), "-o", "json", "--quiet"],
                            capture_output=True, text=True, timeout=300, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"})
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [(c["check_id"], c["file_path"]) for c in report["results"]["failed_checks"]]
    assert failed == [] and summary["passed"] > 50, failed
    assert result.returncode == 0


def test_bundled_production_switches_blue_green_in_order() -> None:
    job = workflows(bundled())["ci-cd.yml"]["jobs"]["deploy-production"]
    names = [step["name"] for step in job["steps"]]
    services = ["api-gateway", "auth-service", "business-service", "inventory-service", "invoice-service"]
    for service in services:
        order = [names.index(name) for name in [
            f"Find the live slot of {service}", f"Deploy {service} to its idle slot",
            f"Smoke test {service} on its idle slot", f"Serve {service} from both slots",
            f"Switch {service} to the new slot", "Smoke test https://api.business-app.com", "The release is live",
            "Let the old slots drain, then scale them down"]]
        assert order == sorted(order), service
    # no traffic moves until every idle slot passed its smoke test; no Service leaves its old slot until every new
    # slot behind the load balancer is a healthy target (the public api-gateway's only)
    assert max(names.index(f"Smoke test {s} on its idle slot") for s in services) < \
        min(names.index(f"Serve {s} from both slots") for s in services)
    healthy = [name for name in names if name.startswith("Wait until the new slot of")]
    assert healthy == ["Wait until the new slot of api-gateway is a healthy load balancer target"]
    assert max(names.index(f"Serve {s} from both slots") for s in services) < names.index(healthy[0]) < \
        min(names.index(f"Switch {s} to the new slot") for s in services)
    restore = job["steps"][-1]
    assert restore["if"] == "failure() || cancelled()" and restore["env"]["SLOT_LABEL"] == SLOT_LABEL
    switch = next(step for step in job["steps"] if step["name"] == "Switch api-gateway to the new slot")
    assert switch["env"] == {"SERVICE": "api-gateway", "SLOT_LABEL": "bizinfra.dev/slot",
                             "SLOT": "${{ steps.slot-api-gateway.outputs.idle }}"}
    assert job["environment"] == {"name": "production", "url": "https://api.business-app.com"}
    assert job["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert job["steps"][1]["with"]["role-to-assume"] == \
        "arn:aws:iam::${{ vars.AWS_ACCOUNT_ID }}:role/business-app-production-deploy"


def production_with_api_gateway(state: Path, live_now: str, selected: str) -> dict[str, Any]:
    """The bundled production deploy job, and a cluster for it holding api-gateway's Service (selecting the slot
    `selected`; "" for a Service never switched, which selects both) and its slots' Deployments, the live one running
    `live_now` replicas ("" for a live slot that does not exist)."""
    job: dict[str, Any] = workflows(bundled())["ci-cd.yml"]["jobs"]["deploy-production"]
    deploy = deploy_step(job, "Deploy api-gateway to its idle slot")
    labels = {"app.kubernetes.io/name": "api-gateway"}
    objects: dict[str, Any] = {"Namespace//business-app": {"kind": "Namespace", "metadata": {"name": "business-app"}},
                               "Service/business-app/api-gateway": {
                                   "kind": "Service", "metadata": {"name": "api-gateway", "namespace": "business-app"},
                                   "spec": {"selector": {**labels, **({SLOT_LABEL: selected} if selected else {})}}}}
    for slot in ("blue", "green"):
        live = slot == (selected or "blue")
        if live and not live_now:
            continue
        replicas = int(live_now) if live else 0
        objects[f"Deployment/business-app/api-gateway-{slot}"] = {
            "kind": "Deployment", "metadata": {"name": f"api-gateway-{slot}", "namespace": "business-app"},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": {**labels, SLOT_LABEL: slot}}, "spec": {
                "containers": [{"name": deploy["env"]["CONTAINER"], "image": "ghcr.io/acme/business/api-gateway:sha-0"}]}}},
            "status": {"readyReplicas": replicas}}
    state.mkdir()
    (state / "cluster.json").write_text(json.dumps({"objects": objects, "crds": []}))
    (state / "calls.log").write_text("")
    return job


def deploy_step(job: dict[str, Any], name: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [step for step in job["steps"] if step["name"] == name]
    (step,) = steps
    return step


@pytest.mark.parametrize(("live_now", "expected"), [("7", "7"), ("1", "3"), ("", "3")])
def test_the_idle_slot_starts_as_large_as_the_live_slot_runs_and_never_below_the_minimum(
        tmp_path: Path, live_now: str, expected: str) -> None:
    state = tmp_path / "state"
    job = production_with_api_gateway(state, live_now, selected="blue")
    result, found = run_step(deploy_step(job, "Find the live slot of api-gateway"), state, tmp_path, job_env=job["env"])
    assert result.returncode == 0, result.stderr
    assert found["idle-deployment"] == "api-gateway-green"
    result, _ = run_step(deploy_step(job, "Deploy api-gateway to its idle slot"), state, tmp_path, "a" * 40,
                         job["env"], {"slot-api-gateway": found})
    assert result.returncode == 0, result.stderr
    assert f"kubectl scale deployment/api-gateway-green --replicas {expected} --namespace business-app" in calls(state)


@pytest.mark.parametrize(("selected", "pinned"), [("", True), ("blue", False), ("green", False)])
def test_a_service_never_switched_is_pinned_to_the_live_slot_before_the_idle_one_starts(
        tmp_path: Path, selected: str, pinned: bool) -> None:
    state = tmp_path / "state"
    job = production_with_api_gateway(state, "3", selected)
    result, found = run_step(deploy_step(job, "Find the live slot of api-gateway"), state, tmp_path, job_env=job["env"])
    assert result.returncode == 0, result.stderr
    patches = [call for call in calls(state) if call.startswith("kubectl patch service api-gateway")]
    assert patches == ([f'kubectl patch service api-gateway --namespace business-app --type merge --patch '
                        f'{{"spec":{{"selector":{{"bizinfra.dev/slot":"{found["live"]}"}}}}}}'] if pinned else [])
    assert found["live"] == (selected or "blue")
    selector = cluster(state)["objects"]["Service/business-app/api-gateway"]["spec"]["selector"]
    assert selector[SLOT_LABEL] == found["live"]


def test_bundled_staging_rolls_every_service() -> None:
    doc = workflows(bundled())["ci-cd.yml"]
    assert doc["on"]["push"] == {"branches": ["develop", "main"]}
    job = doc["jobs"]["deploy-staging"]
    services = ["api-gateway", "auth-service", "business-service", "inventory-service", "invoice-service"]
    assert [s["env"]["DEPLOYMENT"] for s in deploy_steps(job) if "DEPLOYMENT" in s["env"]] == services
    (release,) = [s for s in job["steps"] if s["name"] == "Set the release's images"]
    assert release["env"]["IMAGES"].splitlines() == [
        f"{name} ghcr.io/acme/business/{name} release" for name in services]
    assert job["steps"][-1]["env"] == {"HOST": "api.staging.business-app.com", "READINESS_PATH": "/health"}


def test_bundled_migration_runs_the_live_release_s_migration_job_of_each_postgres_service() -> None:
    doc = workflows(bundled())["database-migration.yml"]
    inputs = doc["on"]["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["options"] == ["production", "staging"]
    assert inputs["service"]["options"] == ["auth-service", "business-service", "inventory-service", "invoice-service"]
    assert inputs["action"]["options"] == ["migrate", "rollback"]
    production = doc["jobs"]["migrate-production"]
    assert production["environment"] == "production"
    assert production["concurrency"]["group"] == "deploy-business-app-production"  # queues behind a deploy
    step = production["steps"][3]
    assert step["if"] == "inputs.service == 'auth-service'"
    assert step["env"]["DEPLOYMENT_BLUE"] == "auth-service-blue" and step["env"]["ACTION"] == "${{ inputs.action }}"
    assert (step["env"]["MIGRATE_JOB"], step["env"]["ROLLBACK_JOB"]) == ("auth-service-migrate", "auth-service-rollback")
    text = files(bundled())["database-migration.yml"].decode()
    assert "prisma migrate reset" not in text
    assert "kubectl exec" not in text  # never a command in a live pod of the service


def test_no_migration_workflow_without_postgres() -> None:
    platform = Platform.model_validate({"name": "shop", "domain": "shop.example.com",
                                        "services": {"web": {"port": 8080}}})
    assert sorted(files(resolve(platform, "specs/shop.yaml"))) == ["ci-cd.yml", "infrastructure.yml"]


def test_environments_without_a_branch_get_no_deploy_job(tmp_path: Path) -> None:
    platform = Platform.model_validate({"name": "shop", "domain": "shop.example.com", "services": {
        "web": {"port": 8080, "uses": ["db"]}}, "datastores": {"db": {"engine": "postgres", "version": "16"}},
        "environments": {"production": {"runs_on": "kubernetes"}}, "delivery": {"repository": "acme/shop"}})
    plan = resolve(platform, "specs/shop.yaml")
    docs = workflows(plan)
    assert sorted(docs["ci-cd.yml"]["jobs"]) == ["build", "security", "test"]
    assert docs["ci-cd.yml"]["on"] == {"push": {}, "pull_request": {}}
    assert list(docs["database-migration.yml"]["jobs"]) == ["migrate-production"]  # migrations still run by hand
    assert all(schema_errors(doc) == [] for doc in docs.values())
    assert actionlint(write(tmp_path / "workflows", plan), tmp_path) == ""


def test_without_a_repository_no_job_signs_in_to_aws() -> None:
    """Terraform creates no deploy role when the spec does not name the repository: no job may assume one."""
    platform = Platform.model_validate({"name": "shop", "domain": "shop.example.com", "services": {
        "web": {"port": 8080, "uses": ["db"]}}, "datastores": {"db": {"engine": "postgres", "version": "16"}}})
    docs = workflows(resolve(platform, "specs/shop.yaml"))
    assert sorted(docs) == ["ci-cd.yml", "infrastructure.yml"]
    assert sorted(docs["ci-cd.yml"]["jobs"]) == ["build", "security", "test"]


def test_deploy_subject_names_the_repository_and_environment() -> None:
    spec = {"name": "shop", "domain": "shop.example.com", "services": {"web": {"port": 8080}}}
    plan = resolve(Platform.model_validate({**spec, "delivery": {"repository": "acme/shop"}}), "specs/shop.yaml")
    assert [env.deploy.subject for env in plan.environments] == [
        "repo:acme/shop:environment:development", "repo:acme/shop:environment:production",
        "repo:acme/shop:environment:staging"]
    assert {env.deploy.subject for env in resolve(Platform.model_validate(spec), "s.yaml").environments} == {None}


def test_delivery_commands_can_be_overridden() -> None:
    platform = Platform.model_validate({"name": "shop", "domain": "shop.example.com", "services": {
        "web": {"port": 8080}}, "delivery": {"node_version": "22", "install": "pnpm install --frozen-lockfile",
                                             "test": "pnpm test"}})
    steps = workflows(resolve(platform, "specs/shop.yaml"))["ci-cd.yml"]["jobs"]["test"]["steps"]
    assert steps[1]["with"]["node-version"] == "22"
    assert [next(iter(step["env"].values())) for step in steps[2:5]] == [
        "pnpm install --frozen-lockfile", "npx nx run-many -t lint", "pnpm test"]
    assert [step["run"] for step in steps[2:5]] == [f'eval "${next(iter(step["env"]))}"' for step in steps[2:5]]
    # the image follows the same Node line (pinned to a release) and install, and prunes with pnpm
    (entry,) = workflows(resolve(platform, "specs/shop.yaml"))["ci-cd.yml"]["jobs"]["build"]["strategy"]["matrix"][
        "include"]
    args = dict(line.split("=", 1) for line in entry["build-args"].splitlines())
    assert (args["NODE_VERSION"], args["INSTALL"], args["PRUNE"]) == (
        "22.23.3", "pnpm install --frozen-lockfile", "pnpm prune --prod")


def test_other_registries_log_in_with_registry_secrets() -> None:
    platform = Platform.model_validate({"name": "shop", "domain": "shop.example.com", "services": {
        "web": {"port": 8080}, "api": {"port": 8081, "image": "registry.example.com/shop/api"}}})
    steps = workflows(resolve(platform, "specs/shop.yaml"))["ci-cd.yml"]["jobs"]["build"]["steps"]
    logins = [step for step in steps if step["name"].startswith("Log in")]
    assert [(s["if"], s["with"]["password"]) for s in logins] == [
        ("github.event_name == 'push' && matrix.registry == 'ghcr.io'", "${{ secrets.GITHUB_TOKEN }}"),
        ("github.event_name == 'push' && matrix.registry != 'ghcr.io'", "${{ secrets.REGISTRY_PASSWORD }}")]


def test_pin_table_holds_full_commits() -> None:
    for action in ACTIONS.values():
        assert re.fullmatch(r"[0-9a-f]{40}", action.commit), action
        assert re.fullmatch(r"v\d+|[0-9a-f]{40}", action.major), action


# -- the project's own CI ---------------------------------------------------------------------------------


def test_project_ci_passes_actionlint_and_schema(tmp_path: Path) -> None:
    assert actionlint([PROJECT_CI], tmp_path, POLICY + "  require-commit-hash: true\n") == ""
    assert schema_errors(yaml.load(PROJECT_CI.read_text(), Loader=WorkflowLoader)) == []


def test_project_ci_uses_the_pinned_actions() -> None:
    pins = {f"{a.repository}@{a.commit}" for a in ACTIONS.values()}
    used = re.findall(r"uses:\s*(\S+)", PROJECT_CI.read_text())
    assert used and set(used) <= pins


def test_project_ci_runs_tests_lint_types_and_drift() -> None:
    doc = yaml.load(PROJECT_CI.read_text(), Loader=WorkflowLoader)
    scripts = "\n".join(step.get("run", "") for job in doc["jobs"].values() for step in job["steps"])
    for command in ["python -m pytest", "ruff check src tests", "mypy", "python -m bizinfra check",
                    "apt-get install", "prometheus"]:
        assert command in scripts, command


@given(platforms())
def test_a_pull_request_builds_every_image_and_pushes_none(platform: Platform) -> None:
    """A broken Dockerfile or build fails on the pull request, before the merge; only a push signs in and pushes."""
    plan = resolve(platform, "specs/random.yaml")
    workflow = workflows(plan)["ci-cd.yml"]
    assert "pull_request" in workflow["on"]
    build = workflow["jobs"]["build"]
    assert "if" not in build  # it runs for pull requests and pushes alike
    assert build["strategy"]["matrix"]["service"] == sorted(platform.services)
    builds = [step for step in build["steps"] if step.get("uses", "").startswith("docker/build-push-action@")]
    assert builds and all(step["with"]["push"] == "${{ github.event_name == 'push' }}" for step in builds)
    signs_in = [step for step in build["steps"] if step.get("uses", "").startswith(
        ("docker/login-action@", "aws-actions/configure-aws-credentials@"))]
    assert signs_in and all(step["if"].startswith("github.event_name == 'push'") for step in signs_in)
    assert all(job["if"].startswith("github.event_name == 'push'")
               for name, job in workflow["jobs"].items() if name.startswith("deploy-"))
