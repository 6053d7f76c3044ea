"""infrastructure.yml: its shape over random platforms, and its jobs run against stand-ins of terraform, aws and gh
(tests/support/workflow_runner.py) for a pull request, a push to each environment's branch and the drift schedule."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given

from bizinfra.naming import BIZINFRA_REQUIREMENTS, OUTPUT_FOLDER
from bizinfra.plan import EnvironmentPlan, PlatformPlan, resolve
from bizinfra.render import render
from bizinfra.spec.models import Platform
from bizinfra.targets.github import compile_github
from bizinfra.targets.github.actions import ACTIONS
from bizinfra.targets.github.infrastructure import ADDONS, TERRAFORM_CLI, infrastructure, stack_folder
from bizinfra.targets.github.workflows import reachable
from bizinfra.targets.terraform.settings import TERRAFORM_VERSION
from bizinfra.validate.tree import WorkflowLoader
from tests.strategies import platforms
from tests.support import ROOT, bundled_plan, bundled_platform, bundled_tree, optional_tool
from tests.support.workflow_runner import Event, JobResult, World

REPOSITORY = "acme/business"  # the bundled spec's delivery.repository


def arn(role: str) -> str:
    return f"arn:aws:iam::123456789012:role/{role}"


# -- the shape, over random platforms -------------------------------------------------------------------------------


@given(platforms())
def test_only_reachable_environments_get_jobs_and_only_branches_apply(platform: Platform) -> None:
    plan = resolve(platform, "specs/random.yaml")
    jobs = infrastructure(plan)["jobs"]
    envs = reachable(plan)
    expected = {"generated", "review"}
    for env in envs:
        expected |= {f"plan-{env.name}", f"drift-{env.name}"} | ({f"apply-{env.name}"} if env.deploy.branch else set())
    assert set(jobs) == expected
    for env in envs:
        assert jobs[f"plan-{env.name}"].get("environment") is None  # a plan never waits on protection rules
        assert jobs[f"drift-{env.name}"].get("environment") is None
        if env.deploy.branch:
            apply = jobs[f"apply-{env.name}"]
            assert apply["environment"] == env.name
            assert apply["concurrency"] == {"group": f"infrastructure-{env.qualified_name}", "cancel-in-progress": False}
            assert apply["needs"] == f"plan-{env.name}"


@given(platforms())
def test_read_only_jobs_assume_the_plan_role_and_only_the_apply_the_infrastructure_role(platform: Platform) -> None:
    plan = resolve(platform, "specs/random.yaml")
    for job_id, job in infrastructure(plan)["jobs"].items():
        roles = [step["with"]["role-to-assume"] for step in job["steps"] if "role-to-assume" in step.get("with", {})]
        env = next((env for env in reachable(plan) if job_id.endswith(f"-{env.name}")), None)
        if env is None:
            assert roles == [], job_id
        else:
            role = env.deploy.infra_role if job_id.startswith("apply-") else env.deploy.plan_role
            assert [r.rpartition("/")[2] for r in roles] == [role], job_id
            assert job["permissions"]["id-token"] == "write"


@given(platforms())
def test_every_commit_pin_carries_its_release_as_a_comment(platform: Platform) -> None:
    plan = resolve(platform, "specs/random.yaml")
    releases = {f"{action.repository}@{action.commit}": action.release for action in ACTIONS.values()}
    for artifact in compile_github(plan):
        text = render(artifact, plan.source).decode()
        pins = re.findall(r"uses: (\S+@[0-9a-f]{40})(?: # (\S+))?\n", text)
        assert pins, artifact.path
        for pin, comment in pins:
            assert comment == releases[pin], (artifact.path, pin)


def test_the_project_ci_pins_carry_their_releases() -> None:
    releases = {f"{action.repository}@{action.commit}": action.release for action in ACTIONS.values()}
    pins = re.findall(r"uses: (\S+) # (\S+)\n", (ROOT / ".github/workflows/ci.yml").read_text())
    assert pins and all(releases[pin] == release for pin, release in pins)


def test_bizinfra_comes_from_the_spec_or_the_repositorys_requirements_file() -> None:
    plan = bundled_plan()
    installs = [step for job in infrastructure(plan)["jobs"].values() for step in job["steps"]
                if step.get("name") == "Install bizinfra"]
    assert len(installs) == 2 and all(step["run"] == f"python -m pip install -r {BIZINFRA_REQUIREMENTS}"
                                      for step in installs)
    pinned = "bizinfra[validate] @ git+https://github.com/acme/bizinfra@0123abc"
    platform = bundled_platform()
    platform = platform.model_copy(update={"delivery": platform.delivery.model_copy(update={"bizinfra": pinned})})
    installs = [step for job in infrastructure(resolve(platform, "specs/x.yaml"))["jobs"].values()
                for step in job["steps"] if step.get("name") == "Install bizinfra"]
    assert [step["env"] for step in installs] == [{"REQUIREMENT": pinned}] * 2
    assert all(step["run"] == 'python -m pip install "$REQUIREMENT"' for step in installs)


def test_the_pinned_terraform_cli_is_the_one_the_stacks_require_and_the_tests_run() -> None:
    minimum = tuple(int(part) for part in TERRAFORM_VERSION.removeprefix(">=").strip().split("."))
    assert tuple(int(part) for part in TERRAFORM_CLI.split(".")) >= minimum
    terraform = optional_tool("terraform")
    if terraform:
        import subprocess

        version = subprocess.run([terraform, "version", "-json"], capture_output=True, text=True, timeout=60)
        assert json.loads(version.stdout)["terraform_version"] == TERRAFORM_CLI


# -- the jobs, run ---------------------------------------------------------------------------------------------------


def scratch_repository(folder: Path, plan: PlatformPlan) -> Path:
    """The application's repository as a team keeps it: the generated tree, the live workflows, the requirement."""
    repo = folder / "repo"
    for path, data in bundled_tree().items():
        target = repo / OUTPUT_FOLDER / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    workflows = repo / OUTPUT_FOLDER / plan.name / "github/workflows"
    shutil.copytree(workflows, repo / ".github/workflows")
    (repo / BIZINFRA_REQUIREMENTS).write_text("bizinfra[validate]==0.1.0\n")
    for env in reachable(plan):
        addons = repo / stack_folder(plan.name, env) / ADDONS
        if not addons.exists():  # the helm branch generates this stack; until then, one that reads the cluster
            addons.mkdir()
            (addons / "main.tf.json").write_text(json.dumps(
                {"data": {"aws_eks_cluster": {"this": {"name": env.cluster_name}}}}))
    return repo


@pytest.fixture
def world(tmp_path: Path) -> World:
    plan = bundled_plan()
    trust: dict[str, tuple[str, ...]] = {}
    for env in reachable(plan):
        trust[arn(env.deploy.infra_role)] = (env.deploy.subject or "",)
        trust[arn(env.deploy.plan_role)] = env.deploy.plan_subjects
    made = World(tmp_path, scratch_repository(tmp_path, plan), ["terraform", "aws", "gh"], trust=trust)
    # The plan roles may read the state, never write it or its lock (the bootstrap stack's policy).
    (made.state / "terraform").mkdir(exist_ok=True)
    (made.state / "terraform/read-only-roles").write_text(
        "\n".join(arn(env.deploy.plan_role) for env in reachable(plan)))
    return made


def workflow() -> dict[str, Any]:
    plan = bundled_plan()
    (text,) = [render(a, plan.source) for a in compile_github(plan) if a.path.endswith("infrastructure.yml")]
    document: dict[str, Any] = yaml.load(text, Loader=WorkflowLoader)
    return document


def env_named(name: str) -> EnvironmentPlan:
    (env,) = [env for env in bundled_plan().environments if env.name == name]
    return env


def stack(name: str) -> str:
    return stack_folder(bundled_plan().name, env_named(name))


def terraform_calls(world: World, job: str | None = None) -> list[tuple[str, str]]:
    """(command, folder) of each terraform call, in order."""
    return [(call["args"][0], call["where"]) for call in world.calls("terraform") if job in (None, call["job"])]


def assert_green(results: dict[str, JobResult], *job_ids: str) -> None:
    for job_id in job_ids:
        assert results[job_id].status == "success", results[job_id].log


TERRAFORM_JOBS = ["plan-staging", "plan-production", "apply-staging", "apply-production", "drift-staging",
                  "drift-production"]


@pytest.mark.slow  # runs two or more jobs' steps in bash, a stand-in process per call
def test_a_pull_request_checks_and_plans_every_environment_read_only_and_applies_nothing(world: World) -> None:
    results = world.run_workflow(workflow(), Event.pull_request(REPOSITORY), only=TERRAFORM_JOBS)
    assert_green(results, "plan-staging", "plan-production")
    assert {job: results[job].status for job in ("generated", "review")} == {"generated": "not run",
                                                                             "review": "not run"}
    assert {results[job].status for job in TERRAFORM_JOBS[2:]} == {"skipped"}
    assert terraform_calls(world, "plan-staging") == [
        ("fmt", stack("staging")), ("init", stack("staging")), ("validate", stack("staging")),
        ("plan", stack("staging")), ("show", stack("staging"))]  # no cluster yet: the add-ons are not planned
    assert all("-lock=false" in call["args"] for call in world.calls("terraform") if call["args"][0] == "plan")
    assert {call["role"] for call in world.calls("terraform")} == {
        arn(env_named("staging").deploy.plan_role), arn(env_named("production").deploy.plan_role)}
    summary = results["plan-staging"].summary
    assert "### Plan of the staging stack" in summary and "Plan: 1 to add" in summary
    assert "does not exist yet" in summary
    assert (world.artifacts / "terraform-plan-staging/tfplan").is_file()
    assert (world.artifacts / "terraform-plan-staging/.terraform.lock.hcl").is_file()


@pytest.mark.slow  # runs two or more jobs' steps in bash, a stand-in process per call
def test_a_pull_request_plans_the_addons_once_the_cluster_exists(world: World) -> None:
    (world.state / "aws/clusters").mkdir(parents=True)
    (world.state / "aws/clusters" / env_named("staging").cluster_name).write_text("ACTIVE\n")
    results = world.run_workflow(workflow(), Event.pull_request(REPOSITORY), only=["plan-staging"])
    assert_green(results, "plan-staging")
    addons = f"{stack('staging')}/{ADDONS}"
    assert terraform_calls(world, "plan-staging")[-4:] == [("init", addons), ("validate", addons), ("plan", addons),
                                                            ("show", addons)]
    assert "### Plan of the staging add-ons" in results["plan-staging"].summary
    assert (world.artifacts / "terraform-plan-staging/addons/tfplan").is_file()


def test_a_stack_terraform_fmt_would_rewrite_fails_the_pull_request_before_any_plan(world: World) -> None:
    (world.repository / stack("staging") / "override.tf").write_text('locals {\n\tx = 1\n}\n')
    results = world.run_workflow(workflow(), Event.pull_request(REPOSITORY), only=["plan-staging"])
    assert results["plan-staging"].status == "failure"
    assert terraform_calls(world) == [("fmt", stack("staging"))]


def test_a_pull_request_from_a_fork_plans_nothing(world: World) -> None:
    results = world.run_workflow(workflow(), Event.pull_request(REPOSITORY, fork="someone/business"),
                                 only=TERRAFORM_JOBS)
    assert {results[job].status for job in TERRAFORM_JOBS} == {"skipped"}
    assert world.calls() == []


@pytest.mark.slow  # runs two or more jobs' steps in bash, a stand-in process per call
def test_a_push_to_staging_applies_its_plan_then_the_addons_and_leaves_production_alone(world: World) -> None:
    results = world.run_workflow(workflow(), Event.push(REPOSITORY, "develop"), only=TERRAFORM_JOBS)
    assert_green(results, "plan-staging", "apply-staging")
    assert {results[job].status for job in ("plan-production", "apply-production", "drift-staging")} == {"skipped"}
    assert results["apply-staging"].environment == "staging"
    addons = f"{stack('staging')}/{ADDONS}"
    assert terraform_calls(world, "apply-staging") == [
        ("init", stack("staging")), ("apply", stack("staging")),
        ("init", addons), ("plan", addons), ("show", addons), ("apply", addons)]
    applied = [call for call in world.calls("terraform") if call["args"][0] == "apply"]
    assert {call["role"] for call in applied} == {arn(env_named("staging").deploy.infra_role)}
    assert all(call["args"][-1] == "tfplan" for call in applied)  # a saved plan, never -auto-approve
    assert "### Plan of the staging add-ons" in results["apply-staging"].summary


@pytest.mark.slow  # runs two or more jobs' steps in bash, a stand-in process per call
def test_a_failing_stack_apply_stops_the_addons_apply(world: World) -> None:
    world.fail("terraform", "apply", where=stack("staging"))
    results = world.run_workflow(workflow(), Event.push(REPOSITORY, "develop"), only=TERRAFORM_JOBS)
    assert results["apply-staging"].status == "failure"
    assert terraform_calls(world, "apply-staging") == [("init", stack("staging")), ("apply", stack("staging"))]


def test_a_failing_plan_job_applies_nothing(world: World) -> None:
    world.fail("terraform", "plan", where=stack("staging"))
    results = world.run_workflow(workflow(), Event.push(REPOSITORY, "develop"), only=TERRAFORM_JOBS)
    assert (results["plan-staging"].status, results["apply-staging"].status) == ("failure", "skipped")
    assert not [call for call in world.calls("terraform") if call["args"][0] == "apply"]


@pytest.mark.slow  # runs two or more jobs' steps in bash, a stand-in process per call
def test_a_push_to_main_applies_production_as_production(world: World) -> None:
    results = world.run_workflow(workflow(), Event.push(REPOSITORY, "main"), only=TERRAFORM_JOBS)
    assert_green(results, "plan-production", "apply-production")
    assert results["apply-staging"].status == "skipped"
    assert results["apply-production"].environment == "production"
    applied = [call["where"] for call in world.calls("terraform") if call["args"][0] == "apply"]
    assert applied == [stack("production"), f"{stack('production')}/{ADDONS}"]


@pytest.mark.slow  # runs two or more jobs' steps in bash, a stand-in process per call
def test_the_drift_schedule_is_green_without_drift_and_fails_loudly_with_it(world: World) -> None:
    world.run_workflow(workflow(), Event.push(REPOSITORY, "develop"), only=TERRAFORM_JOBS)
    world.run_workflow(workflow(), Event.push(REPOSITORY, "main"), only=TERRAFORM_JOBS)
    results = world.run_workflow(workflow(), Event.schedule(REPOSITORY), only=TERRAFORM_JOBS)
    assert_green(results, "drift-staging", "drift-production")
    assert "No drift in the staging stack." in results["drift-staging"].summary
    assert not (world.state / "gh/issues.json").exists()

    stack_state = world.state / "terraform/stacks" / f"{stack('staging').replace('/', '__')}.json"
    state = json.loads(stack_state.read_text())
    stack_state.write_text(json.dumps({**state, "real": "changed by hand in the console"}))
    for _ in ("opens the issue", "comments on it"):
        results = world.run_workflow(workflow(), Event.schedule(REPOSITORY), only=TERRAFORM_JOBS)
        assert results["drift-staging"].status == "failure"
        assert results["drift-staging"].step("Fail on drift").outcome == "failure"
        assert "has drifted from its Terraform" in results["drift-staging"].step("Fail on drift").log
        assert_green(results, "drift-production")
    (issue,) = json.loads((world.state / "gh/issues.json").read_text())
    assert issue["title"] == "Terraform drift in staging" and "Objects have changed outside" in issue["body"]
    assert len(issue["comments"]) == 1  # the second run comments on the open issue instead of opening another


def test_a_drift_check_that_cannot_plan_fails_without_calling_it_drift(world: World) -> None:
    world.fail("terraform", "plan", where=stack("staging"))
    results = world.run_workflow(workflow(), Event.schedule(REPOSITORY), only=["drift-staging"])
    assert results["drift-staging"].status == "failure"
    assert results["drift-staging"].step("Open or update the drift issue").outcome == "skipped"
