"""Rule `secrets are references`: every secret a service reads comes from Secrets Manager, on every side."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bizinfra.validate.rules.documents import all_containers, meta, name_of, service_of
from bizinfra.validate.rules.edges import monitoring_namespace
from bizinfra.validate.rules.platform_files import PlatformFiles, Problem

_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[?-][^}]*)?\}$")  # ${VAR}, ${VAR:?why}, ${VAR-default}
# Where prometheus-operator mounts the Secrets an Alertmanager lists: <mount>/<secret>/<key>.
_TEMPLATE_KEY = re.compile(r"\{\{-?\s*\.([A-Za-z_][A-Za-z0-9_]*)")  # `{{ .DB_PASSWORD | urlquery }}` reads DB_PASSWORD
_MOUNTED_SECRET = re.compile(r"^/etc/alertmanager/secrets/(?P<secret>[^/]+)/(?P<key>[^/]+)$")


def secrets_are_references(p: PlatformFiles) -> list[Problem]:
    """Each ExternalSecret key names a secret Terraform declares (`aws_secretsmanager_secret`) in the same
    environment, its template reads only its own keys, each database role a service logs in as gets its password
    from a bootstrap Job reading the same secret, and its namespace is one the ClusterSecretStore admits; the
    Deployments and Jobs read the ExternalSecret's target (and read, or pull images with, no Secret nothing creates),
    and so does Alertmanager:
    every secret file its receivers read is a key of an ExternalSecret's target in the monitoring stack's namespace.
    In every compose file the same variables are `${VAR}` references, never values."""
    problems: list[Problem] = []
    needed: dict[str, set[str]] = {}  # the secret variables each service reads in Kubernetes
    for env in p.environments("kubernetes"):
        problems += _external_secrets(p, env, needed)
        problems += _templates_read_their_data(p, env)
        problems += _logins_set_by_a_bootstrap(p, env)
        problems += _store_admits(p, env)
        problems += _secrets_read(p, env)
        problems += _receiver_files(p, env)
    for file in p.compose_files():
        problems += _compose_references(p, file, needed)
    return problems


def _external_secrets(p: PlatformFiles, env: str, needed: dict[str, set[str]]) -> list[Problem]:
    """Each ExternalSecret key Terraform creates; records in `needed` the variables each service reads."""
    created = {str(body.get("name")) for body in (p.terraform(env).get("aws_secretsmanager_secret") or {}).values()}
    declared, problems = p.declared(), []
    for file, secret in p.kinds(env, "ExternalSecret"):
        service = service_of(secret)
        for item in (secret.get("spec") or {}).get("data") or []:
            key = (item.get("remoteRef") or {}).get("key")
            if p.environments("terraform") and key not in created:
                problems.append(Problem(p.where(file), name_of(secret), f"{item.get('secretKey')} reads {key}, "
                                                                        "which Terraform does not create"))
            # compose runs the services, not the Kubernetes-only bootstrap; a store's endpoint (`host`, what its
            # certificate names) is no secret, and compose's plain stores have no certificate to name
            if service in declared and (item.get("remoteRef") or {}).get("property") != "host":
                needed.setdefault(service, set()).add(str(item.get("secretKey")))
    return problems


def _templates_read_their_data(p: PlatformFiles, env: str) -> list[Problem]:
    """A template (DATABASE_URL, REDIS_URL) may read only keys of its own ExternalSecret's `data`: the operator
    refuses to sync a Secret whose template names a missing key, and the service then starts with none of it."""
    problems = []
    for file, secret in p.kinds(env, "ExternalSecret"):
        spec = secret.get("spec") or {}
        keys = {str(item.get("secretKey")) for item in spec.get("data") or []}
        template = (spec.get("target") or {}).get("template") or {}
        for name, text in sorted((template.get("data") or {}).items()):
            problems += [Problem(p.where(file), name_of(secret), f"template {name} reads {key}, which no data "
                                 "item fills") for key in sorted(set(_TEMPLATE_KEY.findall(str(text))) - keys)]
    return problems


def _logins_set_by_a_bootstrap(p: PlatformFiles, env: str) -> list[Problem]:
    """Each database login a service reads (a `username` from Secrets Manager) is a role whose password a database
    bootstrap Job sets from the same secret: else the role does not exist or keeps another password."""
    set_by_jobs = {str((item.get("remoteRef") or {}).get("key"))
                   for _, secret in p.kinds(env, "ExternalSecret") if service_of(secret) not in p.declared()
                   for item in (secret.get("spec") or {}).get("data") or []
                   if (item.get("remoteRef") or {}).get("property") == "password"}
    problems = []
    for file, secret in p.kinds(env, "ExternalSecret"):
        if service_of(secret) not in p.declared():
            continue
        for item in (secret.get("spec") or {}).get("data") or []:
            remote = item.get("remoteRef") or {}
            if remote.get("property") == "username" and remote.get("key") not in set_by_jobs:
                problems.append(Problem(p.where(file), name_of(secret), f"{item.get('secretKey')} logs in as the "
                                        f"role of {remote.get('key')}, whose password no database bootstrap Job sets"))
    return problems


def _secrets_read(p: PlatformFiles, env: str) -> list[Problem]:
    """Every Secret a Deployment or Job reads (`envFrom` or `secretKeyRef`) is an ExternalSecret's target."""
    targets = {((secret.get("spec") or {}).get("target") or {}).get("name") for _, secret in p.kinds(env, "ExternalSecret")}
    problems = []
    for file, workload in p.workloads(env):
        for container in all_containers(workload):
            read = [(source.get("secretRef") or {}).get("name") for source in container.get("envFrom") or []]
            read += [((item.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name")
                     for item in container.get("env") or []]
            problems += [Problem(p.where(file), name_of(workload), f"reads Secret {name}, which no ExternalSecret "
                                                                   "creates")
                         for name in read if name and name not in targets]
        pod = ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}
        problems += [Problem(p.where(file), name_of(workload), f"pulls with Secret {name}, which no ExternalSecret "
                                                               "creates")
                     for name in (item.get("name") for item in pod.get("imagePullSecrets") or [])
                     if name not in targets]
    return problems


def _store_admits(p: PlatformFiles, env: str) -> list[Problem]:
    """An ExternalSecret outside every namespace its ClusterSecretStore's `conditions` name never syncs."""
    admitted = {}
    for _, store in p.kinds(env, "ClusterSecretStore"):
        conditions = (store.get("spec") or {}).get("conditions")
        if conditions:
            admitted[meta(store).get("name")] = {ns for c in conditions for ns in c.get("namespaces") or []}
    problems = []
    for file, secret in p.kinds(env, "ExternalSecret"):
        store = (secret.get("spec") or {}).get("secretStoreRef") or {}
        namespace = meta(secret).get("namespace")
        if store.get("kind") == "ClusterSecretStore" and store.get("name") in admitted \
                and namespace not in admitted[store.get("name")]:
            problems.append(Problem(p.where(file), name_of(secret), f"is in namespace {namespace}, which "
                                    f"ClusterSecretStore {store.get('name')} does not admit "
                                    f"({', '.join(sorted(admitted[store.get('name')]))})"))
    return problems


def _receiver_files(p: PlatformFiles, env: str) -> list[Problem]:
    """Each `*_file` of alertmanager.yml below the secrets mount names a key an ExternalSecret fills in the Secret
    of that name, in the monitoring stack's namespace, where Alertmanager runs and mounts it."""
    config = f"monitoring/{env}/alertmanager.yml"
    if config not in p.files:
        return []
    stack = monitoring_namespace(p, env)
    filled: dict[str, set[str]] = {}
    for _, secret in p.kinds(env, "ExternalSecret"):
        if meta(secret).get("namespace") == stack:
            target = ((secret.get("spec") or {}).get("target") or {}).get("name") or meta(secret).get("name")
            filled.setdefault(str(target), set()).update(
                str(item.get("secretKey")) for item in (secret.get("spec") or {}).get("data") or [])
    problems = []
    for receiver in p.first(config).get("receivers") or []:
        for kind, items in receiver.items():
            for item in items if isinstance(items, list) else []:
                for field, path in (item or {}).items():
                    mounted = _MOUNTED_SECRET.match(str(path)) if field.endswith("_file") else None
                    if mounted and mounted["key"] not in filled.get(mounted["secret"], set()):
                        problems.append(Problem(p.where(config), f"receiver {receiver.get('name')}",
                                                f"{kind}.{field} reads key {mounted['key']} of Secret "
                                                f"{mounted['secret']}, which no ExternalSecret in namespace {stack} "
                                                "fills"))
    return problems


def _compose_references(p: PlatformFiles, file: str, needed: Mapping[str, set[str]]) -> list[Problem]:
    if not p.documents(file):
        return []  # it does not parse: the check "YAML and JSON files parse" names it, once
    services = p.first(file).get("services") or {}
    problems = []
    for service, keys in sorted(needed.items()):
        environment = (services.get(service) or {}).get("environment") or {}
        for key in sorted(keys):
            value = environment.get(key)
            if not (isinstance(value, str) and _REFERENCE.match(value)):
                problems.append(Problem(p.where(file), f"service {service}",
                                        f"{key} must be a ${{VAR}} reference (Kubernetes reads it from Secrets "
                                        f"Manager), got {'nothing' if value is None else 'a value'}"))
    return problems
