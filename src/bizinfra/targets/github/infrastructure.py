"""infrastructure.yml: the generated files and the Terraform stacks, delivered by CI.

- Pull requests: the generated files are current and valid, the spec change is posted as a diff, and every
  environment's stacks are checked (`fmt`, `validate`) and planned without refresh; the plans are kept as an
  artifact and shown on the run's summary. Nothing is applied.
- A push to an environment's branch, once the GitHub environment's protection rules allow the job, plans its stack
  with refresh and applies exactly that plan, then plans and applies the add-ons stack, which reads the cluster the
  first one made. Each plan is on the run's summary.
- A schedule on the drift branch (production's, where GitHub runs schedules) checks every environment for drift
  (`plan -refresh-only -detailed-exitcode`): drift fails the job and opens, or comments on, one issue per
  environment.

Credentials: three roles per environment, made by the bootstrap stack, each trusted by exactly the jobs that assume
it. Pull request plans assume the plan role (`deploy.plan_role`, subject `deploy.pull_request_subject`): any branch's
code runs there, so it reads no secret values (hence `-refresh=false`, since a refresh reads every managed secret
version) and cannot write the lock (hence `-lock=false`: a plan made during an apply may be stale; nobody applies
it). The apply job alone declares the environment and assumes its infrastructure role (`deploy.infra_role`,
`deploy.subject`, `repo:<owner>/<name>:environment:<env>`). The drift check assumes the drift role
(`deploy.drift_role`, `deploy.drift_subject`, `repo:<owner>/<name>:ref:refs/heads/<drift branch>`), which may read
the environment's secret values but write nothing: only reviewed code reaches that branch. Neither plans nor drift
checks declare an environment, so protection rules never wait on them.
"""

from __future__ import annotations

from typing import Any

from bizinfra.naming import BIZINFRA_REQUIREMENTS, OUTPUT_FOLDER, arn
from bizinfra.plan import EnvironmentPlan, PlatformPlan
from bizinfra.targets.github.actions import uses
from bizinfra.targets.github.steps import Document, script
from bizinfra.targets.github.workflows import Pin, checkout, job, reachable

# The Terraform CLI every job runs: the version the tests validate and apply the stacks with (tests/test_terraform.py,
# tests/test_infrastructure_workflow.py check it against the machine's and the stacks' required_version).
TERRAFORM_CLI = "1.11.4"
ADDONS = "addons"  # each environment's second stack, terraform/<env>/addons/: the cluster's add-ons, applied after it
PLAN_FILE = "tfplan"
PLAN_TEXT = "tfplan.txt"
DRIFT_SCHEDULE = "23 5 * * *"  # daily, off the hour (GitHub delays runs scheduled on it), before a working day
PLAN_RETENTION_DAYS = 7  # a saved plan holds the stack's values in clear text: kept no longer than a review takes
SUMMARY_LIMIT = 60_000  # characters of plan text on a summary or an issue (GitHub: 1 MiB a summary, 65536 an issue)

PULL_REQUEST = "github.event_name == 'pull_request'"
SAME_REPOSITORY = "github.event.pull_request.head.repo.full_name == github.repository"  # a fork's PR gets no OIDC
CHECKING_DRIFT = "github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'"
# The GitHub environment secret the apply jobs pass as TF_VAR_alert_endpoints: JSON of the https receivers' URLs
# (terraform/<env>/alarms.md). Unset, `{}`: the first apply subscribes no https endpoint and succeeds.
ALERT_ENDPOINTS_SECRET = "ALERT_ENDPOINTS"
HTTPS_RECEIVERS = ("pagerduty", "webhook")  # the receivers CloudWatch alarms reach by an https subscription


def infrastructure(plan: PlatformPlan) -> Document:
    pin = plan.delivery.pin_actions
    envs = reachable(plan)
    branches = sorted({env.deploy.branch for env in envs if env.deploy.branch})
    trigger: Document = {"pull_request": {}}
    if branches:
        trigger["push"] = {"branches": branches}
    if envs:
        trigger |= {"schedule": [{"cron": DRIFT_SCHEDULE}], "workflow_dispatch": {}}
    jobs: Document = {"generated": generated_job(plan, pin), "review": review_job(plan, pin)}
    for env in envs:
        jobs[f"plan-{env.name}"] = plan_job(env, pin)
        if env.deploy.branch:
            jobs[f"apply-{env.name}"] = apply_job(env, pin)
        if env.deploy.drift_branch:
            jobs[f"drift-{env.name}"] = drift_job(env, pin)
    return {
        "name": f"Infrastructure {plan.name}",
        "on": trigger,
        "permissions": {},
        # Runs of one event and ref queue; a newer pull request run replaces an older one, a push never cancels one
        # that may be applying. Scheduled runs have a group of their own, so they never replace a pending push.
        "concurrency": {"group": "infrastructure-${{ github.event_name }}-${{ github.ref }}",
                        "cancel-in-progress": f"${{{{ {PULL_REQUEST} }}}}"},
        "defaults": {"run": {"shell": "bash"}},
        "jobs": jobs,
    }


# -- bizinfra in CI ---------------------------------------------------------------------------------------------


def install_bizinfra(plan: PlatformPlan, pin: Pin) -> list[Document]:
    """bizinfra as the repository pins it: the spec's delivery.bizinfra, else its requirements file."""
    requirement = plan.delivery.bizinfra
    install = (script("Install bizinfra", 'python -m pip install "$REQUIREMENT"', {"REQUIREMENT": requirement})
               if requirement else
               script("Install bizinfra", f"python -m pip install -r {BIZINFRA_REQUIREMENTS}"))
    return [{"name": "Set up Python", "uses": uses("setup-python", pin), "with": {"python-version": "3.12"}}, install]


DRIFT_OF_LIVE_WORKFLOWS = """\
status=0
for generated in "$GENERATED"/*.yml; do
  diff -u "$generated" ".github/workflows/$(basename "$generated")" || status=1
done
exit "$status"
"""


def generated_job(plan: PlatformPlan, pin: Pin) -> Document:
    """The generated files are what the spec says, the live workflows are the generated ones, and every offline
    judge passes on the tree as committed (patches included): actionlint and shellcheck among them, from the
    validate extra's wheels."""
    return job("Generated files are current and valid", 15, {"contents": "read"}, [
        checkout(pin),
        *install_bizinfra(plan, pin),
        script("Generated files match the specs", "python -m bizinfra check"),
        script("Live workflows match the generated ones", DRIFT_OF_LIVE_WORKFLOWS,
               {"GENERATED": f"{OUTPUT_FOLDER}/{plan.name}/github/workflows"}),
        script("Judge the generated files", "python -m bizinfra validate"),
    ], **{"if": PULL_REQUEST})


POST_DIFF = 'gh pr comment "$PR" --edit-last --body-file diff.md || gh pr comment "$PR" --body-file diff.md\n'


def review_job(plan: PlatformPlan, pin: Pin) -> Document:
    """What the pull request's spec change does, posted as a comment for the reviewer; `check` is the gate."""
    fetch_all = checkout(pin)
    fetch_all["with"] = {**fetch_all["with"], "fetch-depth": 0}  # the base branch, to build it
    return job("Review the spec change", 15, {"contents": "read", "pull-requests": "write"}, [
        fetch_all,
        *install_bizinfra(plan, pin),
        script("Diff against the base branch",
               'python -m bizinfra diff --against "origin/$BASE_REF" --format markdown > diff.md',
               {"BASE_REF": "${{ github.base_ref }}"}),
        # A fork's token cannot comment: the diff is still in the log.
        script("Post the diff", POST_DIFF, {"GH_TOKEN": "${{ github.token }}", "GH_REPO": "${{ github.repository }}",
                                            "PR": "${{ github.event.pull_request.number }}"},
               **{"if": SAME_REPOSITORY}),
    ], **{"if": PULL_REQUEST})


# -- the Terraform stacks ---------------------------------------------------------------------------------------


def stack_folder(plan_name: str, env: EnvironmentPlan) -> str:
    return f"{OUTPUT_FOLDER}/{plan_name}/terraform/{env.name}"


def addons_folder(plan_name: str, env: EnvironmentPlan) -> str:
    return f"{stack_folder(plan_name, env)}/{ADDONS}"


def terraform_setup(pin: Pin) -> Document:
    # No wrapper: it would stand between the scripts and terraform's exit codes and output.
    return {"name": "Set up Terraform", "uses": uses("setup-terraform", pin),
            "with": {"terraform_version": TERRAFORM_CLI, "terraform_wrapper": False}}


def assume(env: EnvironmentPlan, role: str, pin: Pin) -> Document:
    """Short-lived AWS credentials by OIDC. The account is a repository or environment variable: it is not known
    when the files are generated."""
    return {"name": f"Assume {role}", "uses": uses("aws-credentials", pin), "with": {
        "role-to-assume": arn("iam", f"role/{role}", account="${{ vars.AWS_ACCOUNT_ID }}", partition=env.partition),
        "role-session-name": f"github-{env.name}-${{{{ github.run_id }}}}",
        "aws-region": env.region,
    }}


def stack_env(env: EnvironmentPlan) -> Document:
    return {"AWS_REGION": env.region, "CLUSTER": env.cluster_name}


SUMMARISE = f"""\
terraform show -no-color {PLAN_FILE} > {PLAN_TEXT}
{{
  echo "### $TITLE"
  echo
  echo '```'
  head -c {SUMMARY_LIMIT} {PLAN_TEXT}
  echo '```'
}} >> "$GITHUB_STEP_SUMMARY"
"""


def plan_steps(folder: str, title: str, *, check: bool, read_only: bool, **condition: Any) -> list[Document]:
    """init, (validate,) plan -out and its text on the run's summary, in the stack's folder. Read only (a pull
    request's plan role): no lock, and no refresh, which would read secret values."""
    lock = " -refresh=false -lock=false" if read_only else ""
    summary = (f"Plan of {title}, not refreshed (a pull request may not read secret values): changes made outside "
               "Terraform do not show" if read_only else f"Plan of {title}")
    steps = [in_folder(folder, f"Initialise {title}", "terraform init -input=false -no-color", **condition)]
    if check:
        steps.append(in_folder(folder, f"Validate {title}", "terraform validate -no-color", **condition))
    return [*steps,
            in_folder(folder, f"Plan {title}", f"terraform plan -input=false -no-color{lock} -out={PLAN_FILE}",
                      **condition),
            in_folder(folder, f"Summarise the plan of {title}", SUMMARISE, {"TITLE": summary}, **condition)]


def in_folder(folder: str, name: str, run: str, env: dict[str, str] | None = None, **extra: Any) -> Document:
    """A script run in a stack's folder, as terraform wants to be."""
    return script(name, run, env, **{"working-directory": folder}, **extra)


# The add-ons stack reads the cluster (data sources, the helm provider), so it cannot be planned before the
# environment's first apply has made it. Only a cluster that does not exist is a reason to skip that plan: any
# other error (access denied, throttling) fails the job.
CLUSTER_EXISTS = """\
if aws eks describe-cluster --name "$CLUSTER" --region "$AWS_REGION" --query cluster.status --output text \\
    > cluster-status.txt 2> cluster-error.txt; then
  echo "exists=true" >> "$GITHUB_OUTPUT"
elif grep -q ResourceNotFoundException cluster-error.txt; then
  echo "exists=false" >> "$GITHUB_OUTPUT"
  later="the add-ons stack is planned and applied once the environment's first apply has made it"
  echo "The cluster $CLUSTER does not exist yet: $later." >> "$GITHUB_STEP_SUMMARY"
else
  cat cluster-error.txt >&2
  exit 1
fi
"""


CLUSTER_MADE = "steps.cluster.outputs.exists == 'true'"


def cluster_exists() -> Document:
    return script("Does the cluster exist?", CLUSTER_EXISTS, id="cluster")


def plan_job(env: EnvironmentPlan, pin: Pin) -> Document:
    """On a pull request from the repository itself: checked and planned with the read-only plan role, the plans
    kept for the reviewer."""
    stack, addons = stack_folder(env.platform, env), addons_folder(env.platform, env)
    addons_exist: Document = {"if": CLUSTER_MADE}
    return job(f"Plan {env.name}", 20, {"contents": "read", "id-token": "write"}, [
        checkout(pin),
        terraform_setup(pin),
        assume(env, env.deploy.plan_role, pin),
        in_folder(stack, "Format", "terraform fmt -check -recursive -no-color"),  # the add-ons folder too
        *plan_steps(stack, f"the {env.name} stack", check=True, read_only=True),
        cluster_exists(),
        *plan_steps(addons, f"the {env.name} add-ons", check=True, read_only=True, **addons_exist),
        {"name": "Keep the plans", "uses": uses("upload-artifact", pin), "with": {
            "name": plan_artifact(env),
            "path": f"{stack}/{PLAN_FILE}\n{stack}/{PLAN_TEXT}\n{stack}/.terraform.lock.hcl\n{addons}/{PLAN_FILE}\n"
                    f"{addons}/{PLAN_TEXT}\n",
            "include-hidden-files": True, "if-no-files-found": "error", "retention-days": PLAN_RETENTION_DAYS}},
    ], env=stack_env(env), **{"if": f"{PULL_REQUEST} && {SAME_REPOSITORY}"})


def pushed(env: EnvironmentPlan) -> str:
    return f"github.event_name == 'push' && github.ref == 'refs/heads/{env.deploy.branch}'"


def plan_artifact(env: EnvironmentPlan) -> str:
    return f"terraform-plan-{env.name}"


APPLY = f"terraform apply -input=false -no-color {PLAN_FILE}"


def apply_job(env: EnvironmentPlan, pin: Pin) -> Document:
    """On a push to the environment's branch, behind its protection rules: the stack planned with refresh and that
    plan applied, then the add-ons stack, planned against the cluster that apply left and applied, all with the
    environment's infrastructure role (the only one that may refresh, lock and write). The plan is on the run's
    summary; the pull request's plan, unrefreshed, was the review. A failure stops the job before the next apply."""
    stack, addons = stack_folder(env.platform, env), addons_folder(env.platform, env)
    return job(f"Apply {env.name}", 60, {"contents": "read", "id-token": "write"}, [
        checkout(pin),
        terraform_setup(pin),
        assume(env, env.deploy.infra_role, pin),
        *plan_steps(stack, f"the {env.name} stack", check=False, read_only=False),
        in_folder(stack, f"Apply the plan of the {env.name} stack", APPLY),
        *plan_steps(addons, f"the {env.name} add-ons", check=False, read_only=False),
        in_folder(addons, f"Apply the plan of the {env.name} add-ons", APPLY),
    ], environment=env.name,
        concurrency={"group": f"infrastructure-{env.qualified_name}", "cancel-in-progress": False},
        env=stack_env(env) | alert_endpoints(env), **{"if": pushed(env)})


def alert_endpoints(env: EnvironmentPlan) -> Document:
    """The https receivers' URLs the alarms' subscriptions read (the stack's sensitive variable), from the
    environment's secret; `{}` until someone stores it. None without such a receiver: no variable to set."""
    routed = {*env.alerting.pages, *env.alerting.tickets}
    if not any(receiver.kind in HTTPS_RECEIVERS for receiver in env.alerting.receivers if receiver.name in routed):
        return {}
    return {"TF_VAR_alert_endpoints": f"${{{{ secrets.{ALERT_ENDPOINTS_SECRET} || '{{}}' }}}}"}


# -- drift ------------------------------------------------------------------------------------------------------


# -refresh-only: what changed outside Terraform, whatever the configuration (a change merged but not yet applied is
# the apply job's, and the alert endpoints, which only the environment's jobs have, change nothing here).
# -detailed-exitcode: 0 no changes, 1 error, 2 changes. Drift is recorded here and failed on at the end, so both
# stacks are checked and the issue names all that drifted.
DRIFT_CHECK = f"""\
status=0
terraform plan -input=false -no-color -refresh-only -lock=false -detailed-exitcode > {PLAN_TEXT} || status=$?
cat {PLAN_TEXT}
case "$status" in
  0) echo "No drift in $TITLE." >> "$GITHUB_STEP_SUMMARY" ;;
  2)
    echo "drifted=true" >> "$GITHUB_OUTPUT"
    {{
      echo "### Drift in $TITLE"
      echo
      echo '```'
      head -c {SUMMARY_LIMIT // 2} {PLAN_TEXT}
      echo '```'
    }} | tee -a "$GITHUB_STEP_SUMMARY" >> "$GITHUB_WORKSPACE/drift.md"
    ;;
  *) exit "$status" ;;
esac
"""

REPORT_DRIFT = """\
number="$(gh issue list --state open --search "$TITLE in:title" --json number,title \\
  --jq '.[] | select(.title == env.TITLE) | .number' | head -n 1)"
if [ -n "$number" ]; then
  gh issue comment "$number" --body-file drift.md
else
  gh issue create --title "$TITLE" --body-file drift.md
fi
"""

FAIL_ON_DRIFT = """\
echo "::error::$ENVIRONMENT has drifted from its Terraform: the run's summary shows what a plan would change"
exit 1
"""


def drift_job(env: EnvironmentPlan, pin: Pin) -> Document:
    """On the schedule (or by hand) on the drift branch, whose ref alone the drift role trusts: both stacks
    refreshed, which reads their secret values, and compared with their states."""
    on_its_branch = f"({CHECKING_DRIFT}) && github.ref == 'refs/heads/{env.deploy.drift_branch}'"
    stack, addons = stack_folder(env.platform, env), addons_folder(env.platform, env)
    drifted = "steps.stack.outputs.drifted == 'true' || steps.addons.outputs.drifted == 'true'"
    addons_exist: Document = {"if": CLUSTER_MADE}
    return job(f"Drift of {env.name}", 20, {"contents": "read", "id-token": "write", "issues": "write"}, [
        checkout(pin),
        terraform_setup(pin),
        assume(env, env.deploy.drift_role, pin),
        in_folder(stack, f"Initialise the {env.name} stack", "terraform init -input=false -no-color"),
        in_folder(stack, f"Check the {env.name} stack for drift", DRIFT_CHECK, {"TITLE": f"the {env.name} stack"},
                  id="stack"),
        cluster_exists(),
        in_folder(addons, f"Initialise the {env.name} add-ons", "terraform init -input=false -no-color", **addons_exist),
        in_folder(addons, f"Check the {env.name} add-ons for drift", DRIFT_CHECK,
                  {"TITLE": f"the {env.name} add-ons"}, id="addons", **addons_exist),
        script("Open or update the drift issue", REPORT_DRIFT, {
            "GH_TOKEN": "${{ github.token }}", "GH_REPO": "${{ github.repository }}",
            "TITLE": f"Terraform drift in {env.name}"}, **{"if": drifted}),
        script("Fail on drift", FAIL_ON_DRIFT, {"ENVIRONMENT": env.name}, **{"if": drifted}),
    ], concurrency={"group": f"infrastructure-drift-{env.qualified_name}", "cancel-in-progress": True},
        env=stack_env(env), **{"if": on_its_branch})
