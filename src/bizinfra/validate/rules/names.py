"""Rule `names agree across targets`: a name one target uses for another target's object exists there."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any

from bizinfra.validate.rules.documents import meta, name_of, pod_spec, terraform_address
from bizinfra.validate.rules.platform_files import PlatformFiles, Problem

_ROLE_ARN = re.compile(r"^arn:[^:]+:iam::[^:]*:role/(.+)$")  # any partition: aws, aws-us-gov, aws-cn
_SCRIPT_CLUSTER = re.compile(r'^\s*cluster="([^"$]+)"', re.MULTILINE)
_NAMED_KINDS = {"NAMESPACE": "Namespace", "SERVICE": "Service", "JOB": "Job"}  # and DEPLOYMENT*: a Deployment
# The platform-wide stack that makes the state bucket and the infrastructure workflow's roles: a job's role is
# declared there or in its environment's stack.
BOOTSTRAP = "bootstrap"
_TRUST_DOCUMENT = re.compile(r"^\$\{data\.aws_iam_policy_document\.([\w-]+)\.json\}$")
_BRANCH_REF = re.compile(r"github\.ref == 'refs/heads/([^']+)'")


def names_agree(p: PlatformFiles) -> list[Problem]:
    """Each workflow job's namespace, Deployments, Services and the Jobs it waits for are in its environment's
    Kubernetes output, its cluster is that environment's `aws_eks_cluster`, the role it assumes is an `aws_iam_role`
    there; the runbooks' clusters are Terraform's clusters; each Pod Identity association names a declared IAM role
    and cluster, and a ServiceAccount in the application's namespace that the Kubernetes output has; every
    Deployment's and Job's ServiceAccount exists."""
    clusters = {env: {str(c.get("name")) for c in (p.terraform(env).get("aws_eks_cluster") or {}).values()}
                for env in p.environments("terraform")}
    problems: list[Problem] = []
    for path in sorted(f for f in p.files if f.startswith("github/workflows/")):
        for job_name, job in sorted((p.first(path).get("jobs") or {}).items()):
            problems += _job_names(p, path, f"job {job_name}", job, clusters)
            problems += _job_trust(p, path, f"job {job_name}", job)
    problems += _runbook_clusters(p, clusters)
    for env in p.environments("kubernetes"):
        problems += _service_accounts(p, env) + _pod_identity(p, env)
    return problems


def _job_names(p: PlatformFiles, path: str, obj: str, job: Mapping[str, Any],
               clusters: Mapping[str, set[str]]) -> list[Problem]:
    """The names a workflow job deploying to an environment uses: in its `env:` and its steps' `env:`, and the role
    it assumes."""
    environment = job.get("environment")
    env = environment.get("name") if isinstance(environment, dict) else environment
    if not isinstance(env, str) or env not in p.environments("kubernetes"):
        return []
    where, problems = p.where(path), []
    names = {kind: {meta(d).get("name") for _, d in p.kinds(env, kind)} for kind in ("Deployment", *_NAMED_KINDS.values())}
    for key, value in _literal_variables(job):
        kind = _kind_named_by(key)
        if kind and value not in names[kind]:
            problems.append(Problem(where, obj, f"{'namespace' if kind == 'Namespace' else kind} {value} is not in "
                                                f"kubernetes/{env}"))
        if key == "CLUSTER" and env in clusters and value not in clusters[env]:
            problems.append(Problem(where, obj, f"cluster {value} is not the aws_eks_cluster of terraform/{env}"))
    roles = {str(r.get("name")) for stack in (env, BOOTSTRAP) for r in
             (p.terraform(stack).get("aws_iam_role") or {}).values()}
    for step in job.get("steps") or []:
        role = _ROLE_ARN.match(str((step.get("with") or {}).get("role-to-assume", "")))
        if role and env in clusters and role[1] not in roles:
            problems.append(Problem(where, obj, f"assumes role {role[1]}, which is not an aws_iam_role of "
                                                f"terraform/{env} or terraform/{BOOTSTRAP} (Terraform creates it once "
                                                "the spec sets delivery.repository)"))
    return problems


def _job_trust(p: PlatformFiles, path: str, obj: str, job: Mapping[str, Any]) -> list[Problem]:
    """Each role the job assumes is declared in a Terraform stack and trusts the OIDC subject the job runs as: its
    GitHub environment's, else that of the events its `if:` admits (a pull request, a branch's ref)."""
    trusts = _role_trusts(p)
    if not trusts:
        return []
    subjects = _job_subjects(job)
    problems = []
    for step in job.get("steps") or []:
        role = _ROLE_ARN.match(str((step.get("with") or {}).get("role-to-assume", "")))
        if not role:
            continue
        if role[1] not in trusts:
            if not job.get("environment"):  # else _job_names names it, in the environment's words
                problems.append(Problem(p.where(path), obj, f"assumes role {role[1]}, which no Terraform stack "
                                                            "declares"))
            continue
        trusted = trusts[role[1]]
        for subject in subjects:
            if not any(fnmatch.fnmatchcase(subject, pattern.split(":", 2)[-1]) for pattern in trusted):
                problems.append(Problem(p.where(path), obj, f"runs as {subject}, which role {role[1]} does not trust "
                                                            f"(it trusts {', '.join(trusted) or 'no subject'})"))
    return problems


def _job_subjects(job: Mapping[str, Any]) -> list[str]:
    """The OIDC `sub` claims the job may run as, without the `repo:<owner>/<name>:` prefix."""
    environment = job.get("environment")
    env = environment.get("name") if isinstance(environment, dict) else environment
    if isinstance(env, str):
        return [f"environment:{env}"]
    condition = str(job.get("if", ""))
    subjects = ["pull_request"] if "'pull_request'" in condition else []
    return subjects + [f"ref:refs/heads/{branch}" for branch in _BRANCH_REF.findall(condition)]


def _role_trusts(p: PlatformFiles) -> dict[str, tuple[str, ...]]:
    """Every IAM role the Terraform stacks declare, by name, with the GitHub OIDC subjects its trust policy admits."""
    trusts: dict[str, tuple[str, ...]] = {}
    for stack in p.environments("terraform"):
        documents = _policy_documents(p, stack)
        for role in (p.terraform(stack).get("aws_iam_role") or {}).values():
            document = _TRUST_DOCUMENT.match(str(role.get("assume_role_policy", "")))
            statements = (documents.get(document[1]) or {}).get("statement") or [] if document else []
            trusts[str(role.get("name"))] = tuple(
                value for statement in statements for condition in statement.get("condition") or []
                if str(condition.get("variable", "")).endswith(":sub") for value in condition.get("values") or [])
    return trusts


def _policy_documents(p: PlatformFiles, stack: str) -> dict[str, Any]:
    documents: dict[str, Any] = {}
    for path in sorted(f for f in p.files if f.startswith(f"terraform/{stack}/") and f.endswith(".tf.json")):
        documents |= (p.first(path).get("data") or {}).get("aws_iam_policy_document") or {}
    return documents


def _literal_variables(job: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The job's and its steps' `env:` values written as text (an expression is resolved at run time)."""
    variables = [dict(job.get("env") or {})] + [dict(step.get("env") or {}) for step in job.get("steps") or []]
    return [(key, value) for values in variables for key, value in sorted(values.items())
            if isinstance(value, str) and "${{" not in value]


def _kind_named_by(key: str) -> str | None:
    """The Kubernetes kind a workflow variable names, if it names one."""
    return "Deployment" if key.startswith("DEPLOYMENT") else _NAMED_KINDS.get(key)


def _runbook_clusters(p: PlatformFiles, clusters: Mapping[str, set[str]]) -> list[Problem]:
    everywhere = set().union(*clusters.values()) if clusters else set()
    return [Problem(p.where(path), "cluster", f"'{cluster}' is not an aws_eks_cluster of Terraform "
                                              f"({', '.join(sorted(everywhere))})")
            for path in sorted(f for f in p.files if f.startswith("scripts/"))
            for cluster in _SCRIPT_CLUSTER.findall(p.text(path)) if clusters and cluster not in everywhere]


def _accounts(p: PlatformFiles, env: str) -> set[tuple[Any, Any]]:
    """The ServiceAccounts of the environment, as (namespace, name)."""
    return {(meta(d).get("namespace"), meta(d).get("name")) for _, d in p.kinds(env, "ServiceAccount")}


def _service_accounts(p: PlatformFiles, env: str) -> list[Problem]:
    accounts, problems = _accounts(p, env), []
    for file, workload in p.workloads(env):
        account = pod_spec(workload).get("serviceAccountName")
        if account and (meta(workload).get("namespace"), account) not in accounts:
            problems.append(Problem(p.where(file), name_of(workload), f"runs as ServiceAccount {account}, which is "
                                                                      "not generated"))
    return problems


def _pod_identity(p: PlatformFiles, env: str) -> list[Problem]:
    """Each association's role and cluster are declared; its ServiceAccount, in a namespace the Kubernetes output
    has (the add-ons' namespaces are not bizinfra's), exists."""
    resources, accounts = p.terraform(env), _accounts(p, env)
    namespaces = {meta(d).get("name") for _, d in p.kinds(env, "Namespace")}
    file, problems = p.where(f"terraform/{env}/eks.tf.json"), []
    for label, association in sorted((resources.get("aws_eks_pod_identity_association") or {}).items()):
        obj = f"aws_eks_pod_identity_association.{label}"
        for key, kind in (("role_arn", "aws_iam_role"), ("cluster_name", "aws_eks_cluster")):
            address = terraform_address(association.get(key))
            if not address or address[0] != kind or address[1] not in (resources.get(kind) or {}):
                problems.append(Problem(file, obj, f"{key} {association.get(key)} is not a declared {kind}"))
        namespace, account = association.get("namespace"), association.get("service_account")
        if namespace in namespaces and (namespace, account) not in accounts:
            problems.append(Problem(file, obj, f"ServiceAccount {account} is not in the Kubernetes output of {env}"))
    return problems
