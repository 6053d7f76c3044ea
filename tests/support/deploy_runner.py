"""The deploy jobs of ci-cd.yml run step by step, in bash, against the stand-ins of tests/support/stand_ins (kubectl,
kustomize, aws, curl, sleep) that keep a cluster's state in a folder: the one runner of the deploy-job tests
(tests/test_deploy_job.py, tests/test_github.py, tests/test_migrations.py).

tests/support/workflow_runner.py is the generic runner (every job of a workflow, its actions, GitHub's expression
language). This one is smaller and has what the blue-green proof needs to stay within a few hundred stand-in calls:
cancellation, a failure at the N-th kubectl call, and checkpoints to resume from. It does what the deploy jobs need
of GitHub Actions: `uses:` steps are skipped (they only sign in), `${{ }}` in `env:` is resolved from step outputs and
`vars`, scripts run as `bash --noprofile --norc -eo pipefail`, and `if:` is read from the status functions, `&&` and
`||`. `run_step` runs one step alone.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bizinfra.validate.tree import WorkflowLoader
from tests.support import ROOT, bundled_tree

STAND_INS = ROOT / "tests/support/stand_ins"
ACCOUNT = "123456789012"
CRDS = ["clustersecretstores.external-secrets.io", "externalsecrets.external-secrets.io",
        "podmonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com", "schedules.velero.io",
        "targetgroupbindings.elbv2.k8s.aws"]
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


@dataclass
class Run:
    failed_step: str | None = None
    ran: list[str] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)


@dataclass(frozen=True)
class Checkpoint:
    """Where a run stood before one of its steps: the cluster, the calls so far, the outputs of earlier steps. A
    run resumed there does what the whole run would have done from that step on, without its earlier steps."""
    step: int
    outputs: dict[str, dict[str, str]]
    state: dict[str, str]
    kubectl_calls: int

    def restore(self, state: Path) -> None:
        for name, text in self.state.items():
            (state / name).write_text(text)


def wanted(condition: str | None, status: str) -> bool:
    """A step's `if:` built of GitHub's status functions, `&&` and `||`; none means `success()`."""
    if condition is None:
        return status == "success"
    truth = {"success()": status == "success", "failure()": status == "failure",
             "cancelled()": status == "cancelled", "always()": True}
    return any(all(truth[term.strip()] for term in alternative.split("&&")) for alternative in condition.split("||"))


def run_job(job: dict[str, Any], workspace: Path, state: Path, sha: str, fail_at: int | None = None,
            cancel: bool = False, start: Checkpoint | None = None) -> Run:
    """With `fail_at`, that kubectl call fails; with `cancel`, the job is cancelled there instead (it hit its time
    limit mid-step), so only `cancelled()` steps run after it. With `start`, the run resumes at a checkpoint."""
    outputs: dict[str, dict[str, str]] = {}
    if start:
        start.restore(state)
        outputs = {step_id: dict(values) for step_id, values in start.outputs.items()}
    run = Run()
    status = "success"
    for index, step in enumerate(job["steps"]):
        if "run" not in step or not wanted(step.get("if"), status) or (start and index < start.step):
            continue
        if status == "success":
            files = {name: (state / name).read_text() for name in ("cluster.json", "calls.log")}
            run.checkpoints.append(Checkpoint(index, {k: dict(v) for k, v in outputs.items()}, files,
                                              sum(1 for c in files["calls.log"].splitlines() if c.startswith("kubectl "))))

        result, found = run_step(step, state, workspace, sha, job.get("env", {}), outputs, fail_at)
        run.ran.append(step["name"])
        if "id" in step:
            outputs[step["id"]] = found
        if result.returncode != 0 and status == "success":
            run.failed_step = step["name"]
            status = "cancelled" if cancel else "failure"
    return run


def run_step(step: dict[str, Any], state: Path, workspace: Path, sha: str = "0" * 40,
             job_env: dict[str, str] | None = None, outputs: dict[str, dict[str, str]] | None = None,
             fail_at: int | None = None) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """One step's script, as the runner runs it, in `workspace`: `${{ }}` in its `env:` (and the job's, `job_env`)
    resolved from `outputs` (earlier steps' by id) and `vars`. Its result and the outputs it wrote."""
    outputs = outputs or {}

    def resolve(text: str) -> str:
        def value(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression == "vars.AWS_ACCOUNT_ID":
                return ACCOUNT
            found = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
            assert found, expression
            return outputs.get(found.group(1), {}).get(found.group(2), "")
        return EXPRESSION.sub(value, text)

    temp = state / "runner-temp"
    temp.mkdir(exist_ok=True)
    output_file = temp / "output"
    output_file.write_text("")
    env = {"PATH": f"{STAND_INS}:{os.path.dirname(sys.executable)}:/usr/bin:/bin", "STAND_IN_STATE": str(state),
           "GITHUB_SHA": sha, "GITHUB_OUTPUT": str(output_file), "RUNNER_TEMP": str(temp), "HOME": str(temp),
           **({"KUBECTL_FAIL_AT": str(fail_at)} if fail_at else {}),
           **{k: resolve(str(v)) for k, v in (job_env or {}).items()},
           **{k: resolve(str(v)) for k, v in step.get("env", {}).items()}}
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], env=env,
                            cwd=workspace, capture_output=True, text=True, timeout=120)
    written = dict(line.split("=", 1) for line in output_file.read_text().splitlines() if line)
    return result, written


def deploy_job(env: str, files: dict[str, bytes] | None = None, platform: str = "business-app") -> dict[str, Any]:
    files = files or bundled_tree()
    workflow = yaml.load(files[f"{platform}/github/workflows/ci-cd.yml"], Loader=WorkflowLoader)
    job: dict[str, Any] = workflow["jobs"][f"deploy-{env}"]
    return job


def workspace_with(folder: Path, files: dict[str, bytes]) -> Path:
    """The repository as the job checks it out: the generated tree below `generated/`."""
    for path, content in files.items():
        target = folder / "generated" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return folder


def cluster(state: Path) -> dict[str, Any]:
    return json.loads((state / "cluster.json").read_text())


def calls(state: Path) -> list[str]:
    return (state / "calls.log").read_text().splitlines()


def empty_cluster(state: Path) -> Path:
    """A cluster with the add-ons' CRDs and the add-ons' namespaces (the add-ons stack made them), nothing else."""
    state.mkdir(parents=True, exist_ok=True)
    objects = {f"Namespace//{name}": {"kind": "Namespace", "metadata": {"name": name}}
               for name in ("kube-system", "monitoring", "velero", "external-secrets")}
    (state / "cluster.json").write_text(json.dumps({"objects": objects, "crds": CRDS}))
    (state / "calls.log").write_text("")
    return state


def images(state: Path) -> dict[str, str]:
    return {k: o["spec"]["template"]["spec"]["containers"][0]["image"]
            for k, o in cluster(state)["objects"].items() if o["kind"] == "Deployment"}


def ready_endpoints(state: Path) -> dict[str, int]:
    """Each Service's ready endpoints: the Ready pods of the Deployments whose pod labels its selector matches."""
    objects = cluster(state)["objects"].values()
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    return {service["metadata"]["name"]: sum(
        d.get("status", {}).get("readyReplicas", 0) for d in deployments
        if service["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items())
        for service in objects if service["kind"] == "Service" and service["spec"].get("selector")}
