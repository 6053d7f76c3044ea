"""One function per workflow, and one per job: each reads like the YAML it becomes.

Every name a deploy touches (cluster, region, namespace, Deployment, container, Service, slot label,
IAM role, image, host) comes from the plan. Scripts read them from `env:`, never from `${{ }}`
inside `run:`, so nothing a user controls is pasted into a shell.
"""

from __future__ import annotations

from typing import Any, Literal

from bizinfra.naming import (
    BOOTSTRAP_COMPONENT,
    DEPLOY_SESSION_LIMIT_SECONDS,
    MANAGED_BY,
    ROLLOUT_TIMEOUT_SECONDS,
    arn,
    ecr_host,
    kubectl_duration,
)
from bizinfra.plan import (
    OUTPUT_FOLDER,
    PART_OF_LABEL,
    EnvironmentPlan,
    PlatformPlan,
    ServiceBuild,
    ServicePlan,
)
from bizinfra.targets.github import migrations
from bizinfra.targets.github.actions import uses
from bizinfra.targets.github.rollout import (
    CANCELLATION_MINUTES,
    ROLLOUT_TIMEOUT,
    after_release,
    before_release,
    roll_out,
    slot_env,
    slot_lookup,
    slot_output,
    smoke_test_seconds,
)
from bizinfra.targets.github.steps import Document, script, time_limited, within, worst_case_minutes
from bizinfra.targets.kubernetes.manifests import manifest_files

Pin = Literal["sha", "tag"]

RUNNER = "ubuntu-24.04"  # a fixed image, so a runner upgrade is a reviewed change rather than a surprise
FIELD_MANAGER = MANAGED_BY  # server-side apply records bizinfra as the owner of every field the files state
APPLYSET = f"secrets/{MANAGED_BY}"  # the ApplySet's parent: a Secret in the platform's namespace listing the set
WORKLOADS_FILE = "workloads.yaml"  # the one file of the folder whose images a release sets
CRD_WAIT_SECONDS = 120  # the add-ons stack installs the CRDs; a fresh cluster may still be registering them
# Beyond its steps' limits, a job's time to start: the runner's set-up, downloading the actions.
JOB_MARGIN_MINUTES = 5
# A job on a GitHub-hosted runner is terminated at 6 hours, with no cancellation and so no restore (docs.github.com,
# "Usage limits"). A deploy job's own limit stays under it by the time a cancelled job's restore may take.
HOSTED_JOB_LIMIT_MINUTES = 6 * 60
DEPLOY_LIMIT_MINUTES = HOSTED_JOB_LIMIT_MINUTES - CANCELLATION_MINUTES - 1


# -- shared facts of the workflows ------------------------------------------------------------------


def reachable(plan: PlatformPlan) -> tuple[EnvironmentPlan, ...]:
    """The Kubernetes environments CI can sign in to: Terraform creates their deploy role only when the spec
    names the repository (delivery.repository), since a role trusting any repository's jobs would be open to all."""
    return tuple(env for env in plan.on("kubernetes") if env.deploy.subject)


def deployed(plan: PlatformPlan) -> tuple[EnvironmentPlan, ...]:
    """The Kubernetes environments a branch deploys to."""
    return tuple(env for env in reachable(plan) if env.deploy.branch)


def migrated_services(plan: PlatformPlan) -> tuple[str, ...]:
    """The migrated services of the environments CI can reach that run a Deployment, whose migrations the migration
    workflow runs by hand (from the live Deployment's release; a cron job has none)."""
    return tuple(sorted({service.name for env in reachable(plan) for service in env.migrated_services
                         if service.deployments}))


ACCOUNT = "${{ vars.AWS_ACCOUNT_ID }}"  # not known when the files are generated: a repository or environment variable


def role_arn(env: EnvironmentPlan) -> str:
    # The partition is the region's, as in the ARNs Terraform writes for the same role (GovCloud: aws-us-gov).
    return arn("iam", f"role/{env.deploy.role}", account=ACCOUNT, partition=env.partition)


def ecr_registry(plan: PlatformPlan) -> str:
    """The account's ECR registry, as the workflows write it: the account from the same variable as the roles'."""
    return ecr_host(ACCOUNT, plan.region)


def released_image(env: EnvironmentPlan, service: ServicePlan) -> str:
    """The image a release of the service pushes and deploys, without its tag."""
    return f"{ecr_host(ACCOUNT, env.region)}/{service.image}" if env.registry.ecr else service.image


def registry_host(image: str) -> str:
    first, _, rest = image.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else "docker.io"


def job(name: str, minutes: int, permissions: dict[str, str], steps: list[Document], **extra: Any) -> Document:
    """A job with the three things every job here must state: where it runs, its time limit, its token's grants."""
    return {"name": name, "runs-on": RUNNER, "timeout-minutes": minutes, "permissions": permissions, **extra,
            "steps": steps}


def checkout(pin: Pin) -> Document:
    # The token is not kept in .git/config, where later steps could read it.
    return {"name": "Check out", "uses": uses("checkout", pin), "with": {"persist-credentials": False}}


def app_command(name: str, variable: str, command: str) -> Document:
    """One of the application's own commands from the spec, run as written: it reaches the shell through env:
    like every other value, so the workflow's shell lint judges bizinfra's script, not the user's command line."""
    return script(name, f'eval "${variable}"', {variable: command})


def aws_access(env: EnvironmentPlan, pin: Pin) -> list[Document]:
    """Short-lived AWS credentials by OIDC role assumption, then a kubeconfig for the environment's cluster."""
    return [
        {"name": "Assume the deploy role", "uses": uses("aws-credentials", pin), "with": {
            "role-to-assume": role_arn(env),
            "role-session-name": f"github-{env.name}-${{{{ github.run_id }}}}",
            "aws-region": env.region,
        }},
        script("Use the cluster", USE_CLUSTER, {"CLUSTER": env.cluster_name}),
    ]


# The context's namespace, not `--namespace`: `kubectl apply` refuses a flag that differs from an object's own
# namespace (the velero Schedule, the dashboard), and the ApplySet's parent lives in the context's namespace.
USE_CLUSTER = """\
aws eks update-kubeconfig --name "$CLUSTER" --region "$AWS_REGION"
kubectl config set-context --current --namespace "$NAMESPACE"
"""


def deploy_lock(env: EnvironmentPlan) -> Document:
    """One group per environment, shared by deploys and migrations: they queue, never overlap or cancel."""
    return {"group": f"deploy-{env.qualified_name}", "cancel-in-progress": False}


# -- ci-cd.yml --------------------------------------------------------------------------------------


def ci_cd(plan: PlatformPlan) -> Document:
    pin = plan.delivery.pin_actions
    branches = sorted(env.deploy.branch for env in deployed(plan) if env.deploy.branch)
    trigger: Document = {"branches": branches} if branches else {}
    jobs: Document = {"test": test_job(plan, pin), "security": security_job(plan, pin),
                      "build": build_job(plan, pin)}
    for env in deployed(plan):
        jobs[f"deploy-{env.name}"] = deploy_job(env, pin)
    return {
        "name": f"CI/CD {plan.name}",
        "on": {"push": trigger, "pull_request": trigger},
        "permissions": {},
        "concurrency": {"group": "ci-cd-${{ github.ref }}",
                        "cancel-in-progress": "${{ github.event_name == 'pull_request' }}"},
        "defaults": {"run": {"shell": "bash"}},
        "jobs": jobs,
    }


def node_setup(plan: PlatformPlan, pin: Pin) -> list[Document]:
    return [
        checkout(pin),
        {"name": "Set up Node.js", "uses": uses("setup-node", pin),
         "with": {"node-version": plan.delivery.node_version, "cache": "npm"}},
        app_command("Install dependencies", "INSTALL_COMMAND", plan.delivery.install),
    ]


def test_job(plan: PlatformPlan, pin: Pin) -> Document:
    return job("Lint and test", 20, {"contents": "read"}, [
        *node_setup(plan, pin),
        app_command("Lint", "LINT_COMMAND", plan.delivery.lint),
        app_command("Test with coverage", "TEST_COMMAND", plan.delivery.test),
        {"name": "Keep the coverage report", "if": "${{ !cancelled() }}", "uses": uses("upload-artifact", pin),
         "with": {"name": "coverage", "path": "coverage/", "if-no-files-found": "warn", "retention-days": 14}},
    ])


def security_job(plan: PlatformPlan, pin: Pin) -> Document:
    """Dependency and filesystem scans that need no third-party account (the seed's Snyk step needed one)."""
    return job("Dependency and filesystem scan", 15, {"contents": "read"}, [
        checkout(pin),
        {"name": "Set up Node.js", "uses": uses("setup-node", pin),
         "with": {"node-version": plan.delivery.node_version}},
        script("Audit production dependencies", "npm audit --omit=dev --audit-level=high"),
        {"name": "Scan the repository with Trivy", "uses": uses("trivy", pin), "with": {
            "scan-type": "fs", "scan-ref": ".", "ignore-unfixed": True, "severity": "CRITICAL,HIGH",
            "exit-code": "1"}},
    ])


def build_job(plan: PlatformPlan, pin: Pin) -> Document:
    builds = plan.builds
    ecr = plan.registry.ecr
    hosts = {registry_host(build.image) for build in builds}
    (dockerfile,) = {build.dockerfile for build in builds}  # the platform's one Dockerfile
    with_database = migrations.services_with_database(plan)
    matrix = {
        "service": [build.name for build in builds],
        "include": [{"service": b.name, "image": b.image, **({} if ecr else {"registry": registry_host(b.image)}),
                     "build-args": build_args(b), "migrations": b.name in with_database} for b in builds],
    }
    steps = [checkout(pin), {"name": "Set up Docker Buildx", "uses": uses("setup-buildx", pin)}]
    # A pull request builds every image too, so a broken Dockerfile or build fails before the merge; it pushes
    # nothing, so it signs in nowhere (a fork's pull request has no secrets, and the push role trusts branches).
    steps += [only_on_push(step) for step in (ecr_login(plan, pin) if ecr else registry_logins(hosts, pin))]
    # The deploy jobs set `sha-<full commit>`: the one tag that names exactly what was tested. ECR's tags are
    # immutable, so there a branch tag, moved by every push, cannot be pushed.
    tags = "type=sha,format=long\n" + ("" if ecr else "type=ref,event=branch\n")
    images = f"{ecr_registry(plan)}/${{{{ matrix.image }}}}" if ecr else "${{ matrix.image }}"
    steps += [
        {"name": "Image tags and labels", "id": "meta", "uses": uses("metadata", pin), "with": {
            "images": images,
            "tags": tags,
        }},
        {"name": "Build, and push from a branch", "uses": uses("build-push", pin), "with": {
            "context": ".",
            "file": dockerfile,
            "build-args": "${{ matrix.build-args }}",
            "push": PUSHING,
            "tags": "${{ steps.meta.outputs.tags }}",
            "labels": "${{ steps.meta.outputs.labels }}",
            "cache-from": "type=gha,scope=${{ matrix.service }}",
            "cache-to": "type=gha,mode=max,scope=${{ matrix.service }}",
        }},
        *migrations.build_steps(plan, pin, images, "${{ matrix.build-args }}", dockerfile, PUSHING),
    ]
    grants = {"contents": "read", "id-token": "write"} if ecr else {"contents": "read", "packages": "write"}
    return job("Build ${{ matrix.service }}", 30, grants, steps, needs=["test", "security"],
               strategy={"fail-fast": False, "matrix": matrix})


PUSHING = "${{ github.event_name == 'push' }}"


def only_on_push(step: Document) -> Document:
    """The step, run only when the workflow runs for a push (a pull request's build pushes nothing)."""
    condition = "github.event_name == 'push'"
    name, rest = step["name"], {key: value for key, value in step.items() if key not in ("name", "if")}
    return {"name": name, "if": f"{condition} && {step['if']}" if "if" in step else condition, **rest}


def ecr_login(plan: PlatformPlan, pin: Pin) -> list[Document]:
    """The push role by OIDC (Terraform's, allowed to push to the platform's repositories only), then docker's login
    action, which signs in to an ECR registry with those credentials itself."""
    role = arn("iam", f"role/{plan.registry.push_role}", account=ACCOUNT, partition=plan.environments[0].partition)
    return [
        {"name": "Assume the image push role", "uses": uses("aws-credentials", pin), "with": {
            "role-to-assume": role, "role-session-name": "github-build-${{ github.run_id }}",
            "aws-region": plan.region}},
        {"name": "Log in to ECR", "uses": uses("login", pin), "with": {"registry": ecr_registry(plan)}},
    ]


def build_args(build: ServiceBuild) -> str:
    """The service's build arguments as build-push-action takes them: one `KEY=value` a line."""
    return "".join(f"{key}={value}\n" for key, value in build.build_args.items())


def registry_logins(hosts: set[str], pin: Pin) -> list[Document]:
    """GitHub's registry takes the job's own token; any other takes REGISTRY_USERNAME/REGISTRY_PASSWORD secrets."""
    logins = []
    if "ghcr.io" in hosts:
        logins.append({"name": "Log in to ghcr.io", "uses": uses("login", pin), **_only(hosts, "=="), "with": {
            "registry": "ghcr.io", "username": "${{ github.actor }}", "password": "${{ secrets.GITHUB_TOKEN }}"}})
    if hosts - {"ghcr.io"}:
        logins.append({"name": "Log in to ${{ matrix.registry }}", "uses": uses("login", pin), **_only(hosts, "!="),
                       "with": {"registry": "${{ matrix.registry }}", "username": "${{ secrets.REGISTRY_USERNAME }}",
                                "password": "${{ secrets.REGISTRY_PASSWORD }}"}})
    return logins


def _only(hosts: set[str], operator: str) -> Document:
    return {"if": f"matrix.registry {operator} 'ghcr.io'"} if len(hosts) > 1 else {}


def deploy_job(env: EnvironmentPlan, pin: Pin) -> Document:
    """The folder applied in two passes (docs/github.md): what the workloads need first (the Namespace, ConfigMaps,
    secrets, the database bootstrap), waited for; then the whole folder with the release's image tags, pruning what
    left git; then the rollouts."""
    # the first pass holds no workload: the services' Deployments (workloads.yaml) and the data stores' exporters
    # (exporters.yaml, which need the bootstrap's monitoring role) start only once it was waited for
    first = [name for name, documents in manifest_files(env)
             if name != WORKLOADS_FILE and not any(d["kind"] == "Deployment" for d in documents)]
    steps = [checkout(pin), *aws_access(env, pin)]
    if custom_resource_definitions(env):
        steps.append(crds_served(env))
    if env.database_bootstraps:
        steps.append(restart_bootstrap(env))
    steps.append(script("Apply what the workloads need first", APPLY_FIRST,
                        {"FOLDER": manifests_folder(env), "FILES": " ".join(first)}))
    if external_secrets(env):
        steps.append(script("Wait for the ExternalSecrets to sync", WAIT_FOR_SECRETS, {"TIMEOUT": ROLLOUT_TIMEOUT},
                            **within(ROLLOUT_TIMEOUT_SECONDS)))
    steps += [wait_for_bootstrap(bootstrap.name) for bootstrap in env.database_bootstraps]
    # Before anything of the release is applied: a failed migration leaves every Deployment and Service as it was.
    steps += migrations.deploy_steps(env, manifests_folder(env), {s.name: released_image(env, s) for s in env.services})
    steps += before_release(env)
    steps += [set_images(env), script("Apply the release", APPLY_RELEASE, {"APPLYSET": APPLYSET})]
    steps += roll_out(env, {service.name: released_image(env, service) for service in env.services})
    hosts = [service for service in env.services if service.public_host]
    steps += [public_smoke_test(env, service) for service in hosts]
    steps += after_release(env)
    environment: Document = {"name": env.name}
    if hosts:
        environment["url"] = f"https://{hosts[0].public_host}"
    # Each step fails at its own limit (then the restore runs); the job's limit, the backstop, is never shorter than
    # all of them together, so a release slow at every step is not cancelled by it, unless that sum passes GitHub's
    # six hours (a dozen migrated services): then the job's limit cancels it first, and the restore still runs.
    steps = time_limited(steps)
    minutes = min(worst_case_minutes(steps) + JOB_MARGIN_MINUTES, DEPLOY_LIMIT_MINUTES)
    steps = [signed_in_for(step, minutes) for step in steps]
    return job(f"Deploy to {env.name}", minutes, {"contents": "read", "id-token": "write"}, steps,
               needs="build", environment=environment, concurrency=deploy_lock(env),
               env={"AWS_REGION": env.region, "NAMESPACE": env.namespace},
               **{"if": f"github.event_name == 'push' && github.ref == 'refs/heads/{env.deploy.branch}'"})


def signed_in_for(step: Document, minutes: int) -> Document:
    """The deploy role's session lasts as long as the job may (the action's default is an hour): kubectl signs in to
    the cluster with it at every call, the restore's included. Terraform's deploy role allows sessions this long."""
    if not str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@"):
        return step
    seconds = min(minutes * 60, DEPLOY_SESSION_LIMIT_SECONDS)
    return {**step, "with": {**step["with"], "role-duration-seconds": seconds}}


def manifests_folder(env: EnvironmentPlan) -> str:
    return f"{OUTPUT_FOLDER}/{env.platform}/kubernetes/{env.name}"


def custom_resource_definitions(env: EnvironmentPlan) -> list[str]:
    """The CRDs the folder's objects need, by name (`<plural>.<group>`): each kind of an API group outside
    Kubernetes' own (`*.k8s.io` and the dotless core groups). Every such kind here pluralises with an `s`."""
    names = set()
    for _, documents in manifest_files(env):
        for document in documents:
            group = document["apiVersion"].rpartition("/")[0]
            if "." in group and not group.endswith(".k8s.io"):
                names.add(f"{document['kind'].lower()}s.{group}")
    return sorted(names)


def external_secrets(env: EnvironmentPlan) -> bool:
    return any(d["kind"] == "ExternalSecret" for _, documents in manifest_files(env) for d in documents)


CRDS_SERVED = """\
read -r -a crds <<< "$CRDS"
kubectl wait --for condition=Established --timeout "$TIMEOUT" "${crds[@]/#/crd/}"
"""


def crds_served(env: EnvironmentPlan) -> Document:
    """The add-ons stack installs these; without them the API server refuses the folder's custom resources."""
    return script("The add-ons' CRDs are served", CRDS_SERVED,
                  {"CRDS": " ".join(custom_resource_definitions(env)), "TIMEOUT": kubectl_duration(CRD_WAIT_SECONDS)},
                  **within(CRD_WAIT_SECONDS))


# A Job's pod template cannot change: the previous run's Job goes, so this release's (new SQL, a rotated password,
# a new database) runs; its SQL only creates what is missing, so running it on every deploy is safe.
RESTART_BOOTSTRAP = """\
kubectl delete job --namespace "$NAMESPACE" --selector "$SELECTOR" --ignore-not-found --wait
"""


def restart_bootstrap(env: EnvironmentPlan) -> Document:
    selector = f"app.kubernetes.io/component={BOOTSTRAP_COMPONENT},{PART_OF_LABEL}={env.platform}"
    return script("Start the database bootstrap afresh", RESTART_BOOTSTRAP, {"SELECTOR": selector})


# Server-side apply: bizinfra's field manager owns every field the files state, and takes them back from an edit by
# hand (`--force-conflicts`); fields the files leave out (replicas under an autoscaler, a blue-green Service's slot)
# stay whoever's they are. The first pass creates the Namespace the ApplySet's parent lives in, so it prunes nothing.
APPLY_FIRST = """\
read -r -a files <<< "$FILES"
kubectl apply --server-side --field-manager bizinfra --force-conflicts "${files[@]/#/--filename=$FOLDER/}"
"""

WAIT_FOR_SECRETS = """\
kubectl wait --for condition=Ready externalsecret --all --namespace "$NAMESPACE" --timeout "$TIMEOUT"
"""

# kubectl refuses `--prune --selector` with server-side apply; an ApplySet prunes exactly the objects it applied
# before (labelled with the set's id), so nothing another tool made is ever deleted, whatever its labels.
APPLY_RELEASE = """\
KUBECTL_APPLYSET=true kubectl apply --server-side --field-manager bizinfra --force-conflicts \\
  --prune --applyset "$APPLYSET" --filename "$RUNNER_TEMP/release.yaml"
"""

# A scratch copy, so the checkout keeps git's placeholder tags. In blue-green the live slot keeps the image it runs
# (read from the cluster); a slot that does not run yet gets the release's.
SET_IMAGES = """\
release="$RUNNER_TEMP/release"
rm -rf "$release"
cp -R "$FOLDER" "$release"
cd "$release"
while read -r deployment image slot; do
  running=""
  if [ "$slot" = live ]; then
    running="$(kubectl get deployment "$deployment" --namespace "$NAMESPACE" --ignore-not-found \\
      --output 'jsonpath={.spec.template.spec.containers[0].image}')"
  fi
  kustomize edit set image "$deployment=${running:-$image:sha-$GITHUB_SHA}"
done <<< "$IMAGES"
kustomize build . > "$RUNNER_TEMP/release.yaml"
"""


def set_images(env: EnvironmentPlan) -> Document:
    lines = []
    for service in env.services:
        image = released_image(env, service)
        if service.slotted:
            lines += [f"{slot_output(service, 'live-deployment')} {image} live",
                      f"{slot_output(service, 'idle-deployment')} {image} idle"]
        else:  # a cron job's image is named after it, as a Deployment's is
            lines += [f"{workload} {image} release" for workload in service.deployments or (service.name,)]
    return script("Set the release's images", SET_IMAGES,
                  {"FOLDER": manifests_folder(env), "IMAGES": "\n".join(lines) + "\n"})


WAIT_FOR_BOOTSTRAP = """\
kubectl wait --for condition=complete "job/$JOB" --namespace "$NAMESPACE" --timeout "$TIMEOUT"
"""


def wait_for_bootstrap(job_name: str) -> Document:
    """A PostgreSQL store's role and databases exist before any service that logs in to them rolls out."""
    return script(f"Wait for the database bootstrap {job_name}", WAIT_FOR_BOOTSTRAP,
                  {"JOB": job_name, "TIMEOUT": ROLLOUT_TIMEOUT}, **within(ROLLOUT_TIMEOUT_SECONDS))


PUBLIC_CURL = "--retry 10 --retry-delay 6 --max-time 10"
PUBLIC_SMOKE_TEST = f"""\
curl --fail --silent --show-error --retry-all-errors {PUBLIC_CURL} \\
  "https://$HOST$READINESS_PATH"
"""


def public_smoke_test(env: EnvironmentPlan, service: ServicePlan) -> Document:
    """The readiness path, which may check the service's dependencies: a release that cannot reach its database
    fails here (the liveness path must not check them, so it would pass)."""
    return script(f"Smoke test https://{service.public_host}", PUBLIC_SMOKE_TEST,
                  {"HOST": service.public_host or "", "READINESS_PATH": service.probes.readiness},
                  **within(smoke_test_seconds(PUBLIC_CURL)))


# -- database-migration.yml ---------------------------------------------------------------------------


def database_migration(plan: PlatformPlan) -> Document:
    envs = reachable(plan)
    services = migrated_services(plan)
    return {
        "name": f"Database migration {plan.name}",
        "on": {"workflow_dispatch": {"inputs": {
            "environment": {"description": "Environment to migrate", "required": True, "type": "choice",
                            "options": [env.name for env in envs]},
            "service": {"description": "Service whose database to migrate", "required": True, "type": "choice",
                        "options": list(services)},
            "action": {"description": "Apply pending migrations (delivery.migrate), or undo the latest "
                                      "(delivery.rollback), with the live release's migration image", "required": True,
                       "type": "choice", "options": ["migrate", "rollback"]},
        }}},
        "permissions": {},
        "defaults": {"run": {"shell": "bash"}},
        "jobs": {f"migrate-{env.name}": migration_job(plan, env) for env in envs},
    }


def migration_job(plan: PlatformPlan, env: EnvironmentPlan) -> Document:
    """The chosen service's migrate or rollback Job (targets/github/migrations.py), from the migration image of the
    release that is live: never a command in a live pod of the service."""
    pin = plan.delivery.pin_actions
    steps = [checkout(pin), *aws_access(env, pin)]
    for service in env.services:
        if not service.migrated or not service.deployments:  # a cron job has no pod to run them in between runs
            continue
        if service.slotted:
            lookup, names = slot_lookup(with_idle=False), slot_env(service)
        else:
            lookup, names = 'live_deployment="$DEPLOYMENT"\n', {"DEPLOYMENT": service.deployments[0]}
        steps += migrations.by_hand_steps(env, manifests_folder(env), service, lookup, names)
    return job(f"Migrate {env.name}", 30, {"contents": "read", "id-token": "write"}, steps, environment=env.name,
               concurrency=deploy_lock(env), env={"AWS_REGION": env.region, "NAMESPACE": env.namespace},
               **{"if": f"inputs.environment == '{env.name}'"})
