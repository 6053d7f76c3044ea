"""Rule `buckets agree across targets`: a service finds the bucket it declares, and only its own service may use it.

Each service the architecture document says uses a bucket has `<NAME>_BUCKET` in its ConfigMap (and its compose
environment), naming an `aws_s3_bucket` of its environment's Terraform (or a bucket the compose S3 stand-in creates);
the Pod Identity association of its ServiceAccount leads to a role whose policy reaches exactly the buckets its
ConfigMap names (and their replicas in a second region); no role reaches a bucket for a service that does not
declare it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bizinfra.validate.rules.documents import pod_spec, service_of, terraform_address
from bizinfra.validate.rules.platform_files import PlatformFiles, Problem

BUCKET_SUFFIX = "_BUCKET"
STAND_IN_BUCKETS = "COM_ADOBE_TESTING_S3MOCK_STORE_INITIAL_BUCKETS"  # how compose's S3 stand-in creates them
REPLICA_SUFFIX = "_replica"  # terraform/buckets.py application_replica_bucket
_BUCKET_ARN = re.compile(r"^\$\{aws_s3_bucket\.([A-Za-z0-9_-]+)\.arn\}(/\*)?$")


def bucket_variable(bucket: str) -> str:
    return bucket.upper().replace("-", "_") + BUCKET_SUFFIX


def buckets_agree(p: PlatformFiles) -> list[Problem]:
    declared = {service: reaches.buckets for service, reaches in p.reaches().items() if reaches.buckets}
    variables = {bucket_variable(bucket) for buckets in declared.values() for bucket in buckets}
    problems: list[Problem] = []
    for env in p.environments("kubernetes"):
        problems += _environment(p, env, declared, variables)
    for path in p.compose_files():
        problems += _compose(p, path, declared, variables)
    return problems


def _environment(p: PlatformFiles, env: str, declared: Mapping[str, frozenset[str]],
                 variables: set[str]) -> list[Problem]:
    configs = service_buckets(p, env, variables)
    terraform = p.terraform(env)
    created = {label: str(body.get("bucket")) for label, body in (terraform.get("aws_s3_bucket") or {}).items()}
    where = p.where(f"kubernetes/{env}/configmaps.yaml")
    problems = []
    for service, buckets in sorted(declared.items()):
        for bucket in sorted(buckets):
            if bucket_variable(bucket) not in configs.get(service, {}):
                problems.append(Problem(where, f"ConfigMap of {service}", f"has no {bucket_variable(bucket)}, though "
                                        f"{service} uses bucket {bucket}"))
    for service, named in sorted(configs.items()):
        for variable, name in sorted(named.items()):
            if name not in created.values():
                problems.append(Problem(where, f"ConfigMap of {service}", f"{variable} names bucket {name}, which "
                                        f"terraform/{env} does not create"))
    application = {name for named in configs.values() for name in named.values()}
    reached = role_buckets(p, env, created)
    accounts = service_accounts(p, env)
    for service, named in sorted(configs.items()):  # a bucket user reaches its buckets, and no other bucket
        granted = reached.get(accounts.get(service, service), set())
        if set(named.values()) != granted:
            problems.append(Problem(p.where(f"terraform/{env}/buckets.tf.json"), f"role of {service}",
                                    f"reaches buckets {_listed(granted)}; {service} uses {_listed(named.values())}"))
    users = {accounts.get(service, service) for service in configs}
    for account, granted in sorted(reached.items()):  # and nobody else reaches an application bucket
        if account not in users and granted & application:
            problems.append(Problem(p.where(f"terraform/{env}/buckets.tf.json"), f"role of {account}",
                                    f"reaches buckets {_listed(granted & application)}, though no service using "
                                    f"a bucket runs as ServiceAccount {account}"))
    return problems


def service_buckets(p: PlatformFiles, env: str, variables: set[str]) -> dict[str, dict[str, str]]:
    """Each service's bucket variables (of the buckets the platform declares) and their values, from its ConfigMap."""
    found: dict[str, dict[str, str]] = {}
    for _, config in p.kinds(env, "ConfigMap"):
        service = service_of(config)
        named = {key: str(value) for key, value in (config.get("data") or {}).items() if key in variables}
        if service and named:
            found.setdefault(service, {}).update(named)
    return found


def service_accounts(p: PlatformFiles, env: str) -> dict[str, str]:
    """The ServiceAccount each service's Deployments run as."""
    return {str(service_of(d)): str(pod_spec(d).get("serviceAccountName")) for _, d in p.kinds(env, "Deployment")
            if service_of(d) and pod_spec(d).get("serviceAccountName")}


def role_buckets(p: PlatformFiles, env: str, created: Mapping[str, str]) -> dict[str, set[str]]:
    """For each ServiceAccount with a Pod Identity association, the buckets of `created` (by name) its role's inline
    policies name in any statement."""
    terraform = p.terraform(env)
    documents: dict[str, Any] = {}
    for path in sorted(f for f in p.files if f.startswith(f"terraform/{env}/") and f.endswith(".tf.json")):
        documents.update((p.first(path).get("data") or {}).get("aws_iam_policy_document") or {})
    by_role: dict[str, set[str]] = {}
    for policy in (terraform.get("aws_iam_role_policy") or {}).values():
        role, document = terraform_address(policy.get("role")), _data_label(policy.get("policy"))
        if role and document in documents:
            by_role.setdefault(role[1], set()).update(_buckets_named(documents[document], created))
    reached: dict[str, set[str]] = {}
    for association in (terraform.get("aws_eks_pod_identity_association") or {}).values():
        role = terraform_address(association.get("role_arn"))
        if role:
            reached.setdefault(str(association.get("service_account")), set()).update(by_role.get(role[1], set()))
    return reached


def _data_label(reference: Any) -> str | None:
    match = re.match(r"^\$\{data\.aws_iam_policy_document\.([A-Za-z0-9_-]+)\.json\}$", str(reference))
    return match[1] if match else None


def _buckets_named(document: Mapping[str, Any], created: Mapping[str, str]) -> set[str]:
    names = set()
    for statement in document.get("statement") or []:
        for resource in statement.get("resources") or []:
            match = _BUCKET_ARN.match(str(resource))
            label = match and _replicated(match[1], created)
            if label:
                names.add(created[label])
    return names


def _replicated(label: str, created: Mapping[str, str]) -> str | None:
    """The bucket a label names; a replica in the second region (`<label>_replica`) counts as its bucket: the same
    objects, which its users reach there after a failover."""
    source = label.removesuffix(REPLICA_SUFFIX)
    if label.endswith(REPLICA_SUFFIX) and source in created:
        return source
    return label if label in created else None


def _compose(p: PlatformFiles, path: str, declared: Mapping[str, frozenset[str]], variables: set[str]) -> list[Problem]:
    services = p.first(path).get("services") or {}
    made = {name for service in services.values()
            for name in str((service.get("environment") or {}).get(STAND_IN_BUCKETS, "")).split(",") if name}
    problems = []
    for name, service in sorted(services.items()):
        environment = service.get("environment") or {}
        for bucket in sorted(declared.get(name, ())):
            if bucket_variable(bucket) not in environment:
                problems.append(Problem(p.where(path), f"service {name}", f"has no {bucket_variable(bucket)}, though "
                                        f"it uses bucket {bucket}"))
        for variable, value in sorted(environment.items()):
            if variable in variables and str(value) not in made:
                problems.append(Problem(p.where(path), f"service {name}", f"{variable} names bucket {value}, which "
                                        "the S3 stand-in does not create"))
    return problems


def _listed(names: Any) -> str:
    return ", ".join(sorted(names)) or "none"
