"""infrastructure.yml: its shape over random platforms, and its jobs run against stand-ins of terraform, aws and gh
(tests/support/workflow_runner.py) for a pull request, a push to each environment's branch and the drift schedule."""

from __future__ import annotations

import fnmatch
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
from bizinfra.targets.terraform.alarms import https_receivers
from bizinfra.targets.terraform.settings import TERRAFORM_VERSION
from bizinfra.validate.tree import WorkflowLoader
from tests.strategies import platforms
from tests.support import ROOT, bundled_plan, bundled_platform, bundled_tree, optional_tool
from tests.support.workflow_runner import Event, Job, JobResult, World

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
        expected |= {f"plan-{env.name}"} | ({f"apply-{env.name}"} if env.deploy.branch else set())
        expected |= {f"drift-{env.name}"} if env.deploy.drift_branch else set()
    assert set(jobs) == expected
    for env in envs:
        assert jobs[f"plan-{env.name}"].get("environment") is None  # a plan never waits on protection rules
        if env.deploy.drift_branch:
            assert jobs[f"drift-{env.name}"].get("environment") is None
            assert f"github.ref == 'refs/heads/{env.deploy.drift_branch}'" in jobs[f"drift-{env.name}"]["if"]
        if env.deploy.branch:
            apply = jobs[f"apply-{env.name}"]
            assert apply["environment"] == env.name
            assert apply["concurrency"] == {"group": f"infrastructure-{env.qualified_name}", "cancel-in-progress": False}
            assert "needs" not in apply  # it plans with refresh itself: the pull request's role could not


@given(platforms())
def test_each_job_assumes_the_role_of_its_kind(platform: Platform) -> None:
    plan = resolve(platform, "specs/random.yaml")
    for job_id, job in infrastructure(plan)["jobs"].items():
        roles = [step["with"]["role-to-assume"] for step in job["steps"] if "role-to-assume" in step.get("with", {})]
        env = next((env for env in reachable(plan) if job_id.endswith(f"-{env.name}")), None)
        if env is None:
            assert roles == [], job_id
        else:
            role = {"apply": env.deploy.infra_role, "plan": env.deploy.plan_role,
                    "drift": env.deploy.drift_role}[job_id.partition("-")[0]]
            assert [r.rpartition("/")[2] for r in roles] == [role], job_id
            assert job["permissions"]["id-token"] == "write"


@given(platforms())
def test_an_apply_job_passes_the_alert_endpoints_exactly_where_the_stack_declares_them(platform: Platform) -> None:
    plan = resolve(platform, "specs/random.yaml")
    jobs = infrastructure(plan)["jobs"]
    for env in reachable(plan):
        if env.deploy.branch:
            assert ("TF_VAR_alert_endpoints" in jobs[f"apply-{env.name}"]["env"]) == bool(https_receivers(env))


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


def bootstrap_roles(plan: PlatformPlan) -> dict[str, dict[str, Any]]:
    """The bootstrap stack's roles as generated, by ARN: the OIDC subjects each trusts, and its policy's statements."""
    path = f"{plan.name}/terraform/bootstrap/roles.tf.json"
    document = json.loads(bundled_tree()[path])
    policies = document["data"]["aws_iam_policy_document"]
    roles = {}
    for label, role in document["resource"]["aws_iam_role"].items():
        (trust,) = policies[f"{label}_trust"]["statement"]
        roles[arn(role["name"])] = {
            "trust": tuple(value for c in trust["condition"] if c["variable"].endswith(":sub") for value in c["values"]),
            "statements": policies[label]["statement"]}
    return roles


def may(statements: list[dict[str, Any]], action: str) -> bool:
    """Whether a role's own policy allows `action` (its managed policy, AWS's ReadOnlyAccess or PowerUserAccess,
    writes no S3 object) and does not deny it."""
    return any(action in s["actions"] and s["effect"] == "Allow" for s in statements) and not denied(statements, action)


def denied(statements: list[dict[str, Any]], action: str) -> bool:
    """Whether a role's own policy denies `action` unconditionally."""
    return any(action in s["actions"] and s["effect"] == "Deny" and not s.get("condition") for s in statements)


@pytest.fixture
def world(tmp_path: Path) -> World:
    """Trust, state writes and secret reads as the generated bootstrap stack grants them, so a job assuming a role
    that does not trust it, or doing what its role may not, fails here as it would on GitHub."""
    plan = bundled_plan()
    roles = bootstrap_roles(plan)
    made = World(tmp_path, scratch_repository(tmp_path, plan), ["terraform", "aws", "gh"],
                 trust={role: facts["trust"] for role, facts in roles.items()})
    (made.state / "terraform").mkdir(exist_ok=True)
    (made.state / "terraform/read-only-roles").write_text(
        "\n".join(role for role, facts in roles.items() if not may(facts["statements"], "s3:PutObject")))
    (made.state / "terraform/no-secret-roles").write_text("\n".join(
        role for role, facts in roles.items() if denied(facts["statements"], "secretsmanager:GetSecretValue")))
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
    plans = [call["args"] for call in world.calls("terraform") if call["args"][0] == "plan"]
    assert plans and all("-lock=false" in args and "-refresh=false" in args for args in plans)
    assert {call["role"] for call in world.calls("terraform")} == {
        arn(env_named("staging").deploy.plan_role), arn(env_named("production").deploy.plan_role)}
    summary = results["plan-staging"].summary
    assert "### Plan of the staging stack, not refreshed" in summary and "Plan: 1 to add" in summary
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
    assert "### Plan of the staging add-ons, not refreshed" in results["plan-staging"].summary
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
    assert_green(results, "apply-staging")
    assert {results[job].status for job in ("plan-staging", "plan-production", "apply-production",
                                            "drift-staging")} == {"skipped"}
    assert results["apply-staging"].environment == "staging"
    addons = f"{stack('staging')}/{ADDONS}"
    assert terraform_calls(world, "apply-staging") == [
        ("init", stack("staging")), ("plan", stack("staging")), ("show", stack("staging")), ("apply", stack("staging")),
        ("init", addons), ("plan", addons), ("show", addons), ("apply", addons)]
    plans = [call["args"] for call in world.calls("terraform") if call["args"][0] == "plan"]
    assert not [args for args in plans if "-refresh=false" in args or "-lock=false" in args]  # refreshed, locked
    applied = [call for call in world.calls("terraform") if call["args"][0] == "apply"]
    assert {call["role"] for call in applied} == {arn(env_named("staging").deploy.infra_role)}
    assert all(call["args"][-1] == "tfplan" for call in applied)  # a saved plan, never -auto-approve
    assert "### Plan of the staging stack\n" in results["apply-staging"].summary
    assert "### Plan of the staging add-ons\n" in results["apply-staging"].summary


def test_the_apply_jobs_pass_the_alert_endpoints_from_the_environments_secret() -> None:
    for env in ("staging", "production"):
        assert workflow()["jobs"][f"apply-{env}"]["env"]["TF_VAR_alert_endpoints"] == \
            "${{ secrets.ALERT_ENDPOINTS || '{}' }}"
    assert not [job for job_id, job in workflow()["jobs"].items()
                if not job_id.startswith("apply-") and "TF_VAR_alert_endpoints" in job.get("env", {})]


@pytest.mark.slow  # runs two or more jobs' steps in bash, a stand-in process per call
def test_a_failing_stack_apply_stops_the_addons_apply(world: World) -> None:
    world.fail("terraform", "apply", where=stack("staging"))
    results = world.run_workflow(workflow(), Event.push(REPOSITORY, "develop"), only=TERRAFORM_JOBS)
    assert results["apply-staging"].status == "failure"
    assert terraform_calls(world, "apply-staging") == [("init", stack("staging")), ("plan", stack("staging")),
                                                      ("show", stack("staging")), ("apply", stack("staging"))]


def test_a_failing_plan_applies_nothing(world: World) -> None:
    world.fail("terraform", "plan", where=stack("staging"))
    results = world.run_workflow(workflow(), Event.push(REPOSITORY, "develop"), only=TERRAFORM_JOBS)
    assert results["apply-staging"].status == "failure"
    assert not [call for call in world.calls("terraform") if call["args"][0] == "apply"]


@pytest.mark.slow  # runs two or more jobs' steps in bash, a stand-in process per call
def test_a_push_to_main_applies_production_as_production(world: World) -> None:
    results = world.run_workflow(workflow(), Event.push(REPOSITORY, "main"), only=TERRAFORM_JOBS)
    assert_green(results, "apply-production")
    assert {results[job].status for job in ("apply-staging", "plan-production", "drift-production")} == {"skipped"}
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
    drift = [call for call in world.calls("terraform") if call["job"] == "drift-staging"]
    assert {call["role"] for call in drift} == {arn(env_named("staging").deploy.drift_role)}
    assert all("-refresh-only" in call["args"] for call in drift if call["args"][0] == "plan")
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


def test_a_pull_request_plan_that_refreshed_would_be_refused_its_secret_values(world: World) -> None:
    """The plan role may not read secret values, and refreshing the stack reads its secret versions."""
    document = workflow()
    plan = next(step for step in document["jobs"]["plan-staging"]["steps"]
                if step["name"] == "Plan the staging stack")
    plan["run"] = plan["run"].replace(" -refresh=false", "")
    results = world.run_workflow(document, Event.pull_request(REPOSITORY), only=["plan-staging"])
    assert results["plan-staging"].status == "failure"
    assert "secretsmanager:GetSecretValue" in results["plan-staging"].step("Plan the staging stack").log


def test_no_role_is_trusted_by_a_job_that_does_not_assume_it_nor_a_job_assumes_a_role_that_distrusts_it(
        tmp_path: Path) -> None:
    """Each event's running jobs (their `if:`, as the runner judges it) and the subjects they run as, against the
    bootstrap stack's trust: every assumption is trusted, and every trusted subject is one a job assumes it as."""
    document, roles, world = workflow(), bootstrap_roles(bundled_plan()), World(tmp_path, tmp_path, [])
    used: dict[str, set[str]] = {role: set() for role in roles}
    events = [Event.pull_request(REPOSITORY), Event.push(REPOSITORY, "develop"), Event.push(REPOSITORY, "main"),
              Event.schedule(REPOSITORY), Event.push(REPOSITORY, "feature")]
    assert trust_problems(world, document, roles, events, used) == []
    assert {role: sorted(subjects) for role, subjects in used.items()} == \
        {role: sorted(facts["trust"]) for role, facts in roles.items()}
    # Mutations: the drift job on the plan role; the plan role trusting every branch.
    wrong = json.loads(json.dumps(document))
    drift = next(step for step in wrong["jobs"]["drift-staging"]["steps"] if "role-to-assume" in step.get("with", {}))
    drift["with"]["role-to-assume"] = drift["with"]["role-to-assume"].replace("-drift", "-plan")
    assert trust_problems(world, wrong, roles, events, {role: set() for role in roles}) == [
        f"drift-staging on schedule: {arn(env_named('staging').deploy.plan_role)} does not trust "
        f"repo:{REPOSITORY}:ref:refs/heads/main"]
    plan_role = arn(env_named("staging").deploy.plan_role)
    wide = {**roles, plan_role: {**roles[plan_role], "trust": (f"repo:{REPOSITORY}:ref:refs/heads/*",)}}
    used = {role: set() for role in wide}
    assert trust_problems(world, document, wide, events, used) == [
        f"plan-staging on pull_request: {plan_role} does not trust repo:{REPOSITORY}:pull_request"]
    assert used[plan_role] == set()  # trusted by every branch, assumed by none of them


def trust_problems(world: World, document: dict[str, Any], roles: dict[str, dict[str, Any]], events: list[Event],
                   used: dict[str, set[str]]) -> list[str]:
    """For each event, each job whose `if:` holds: the roles it assumes trust its OIDC subject; `used` collects
    the trusted patterns matched."""
    problems = []
    for event in events:
        for job_id in document["jobs"]:
            job = Job(world, document, job_id, event, {})
            if not job.should_run():
                continue
            subject = event.subject(job.environment)
            for step in document["jobs"][job_id]["steps"]:
                if "role-to-assume" not in step.get("with", {}):
                    continue
                role = job.interpolate(step["with"]["role-to-assume"])
                matched = [p for p in roles[role]["trust"] if fnmatch.fnmatchcase(subject, p)]
                used[role] |= set(matched)
                if not matched:
                    problems.append(f"{job_id} on {event.name}: {role} does not trust {subject}")
    return problems
