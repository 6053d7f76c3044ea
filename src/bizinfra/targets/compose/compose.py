"""The development environment on a laptop: one compose file per compose environment, read from the plan.

Every port, host, database name and variable comes from the plan, so a service sees the same
configuration here as in its Kubernetes ConfigMaps. Credentials are `${VAR}` references filled
from `.env` (copied from the generated `.env.example`): no password is written in the compose file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bizinfra.artifacts import Artifact, text_file, yaml_file
from bizinfra.plan import DOCKERFILE, DatastorePlan, EnvironmentPlan, PlatformPlan, ServicePlan
from bizinfra.targets.compose.dockerfile import dockerfile, dockerignore, health_command
from bizinfra.targets.compose.s3 import (
    S3_VARIABLES,
    env_example_lines,
    needs_stand_in,
    stand_in_environment,
    stand_in_name,
    stand_in_port,
    stand_in_service,
)

Document = dict[str, Any]

# pgAdmin 9.18 is the newest pgadmin4 release on PyPI when this was written; the image tag follows it.
PGADMIN_IMAGE = "dpage/pgadmin4:9.18"
PGADMIN_PORT = 5050
TOOLS_PROFILE = "tools"  # `docker compose --profile tools up` adds pgAdmin
JOBS_PROFILE = "jobs"  # a cron job runs once on `docker compose run --rm <job>`; compose has no scheduler
# Services build from the application's repository, by default the one holding `generated/` (the
# default output folder); `.env` can point to another checkout, which must hold `generated/` too: the
# Dockerfile is read from there.
SOURCE_VARIABLE = "APP_SOURCE_DIR"
PGADMIN_PASSWORD_VARIABLE = "PGADMIN_PASSWORD"


def compile_compose(plan: PlatformPlan) -> list[Artifact]:
    """The Dockerfile every service builds from (CI builds it too) with its ignore file, and a compose folder per
    compose environment."""
    artifacts = [text_file(DOCKERFILE, dockerfile()), text_file(f"{DOCKERFILE}.dockerignore", dockerignore())]
    environments = plan.on("compose")
    for env in environments:
        folder = "compose" if len(environments) == 1 else f"compose/{env.name}"
        variables = env_file_variables(env)
        artifacts += [
            yaml_file(f"{folder}/docker-compose.yml", compose_file(env, folder, variables), environment=env.name),
            text_file(f"{folder}/.env.example", env_example(env, folder, variables), environment=env.name),
            text_file(f"{folder}/make-env.sh", MAKE_ENV, environment=env.name),
        ]
        artifacts += [text_file(f"{folder}/initdb/{store.name}/create-databases.sh", init_script(store),
                                environment=env.name) for store in postgres_stores(env) if store.databases]
    return artifacts


# -- names -----------------------------------------------------------------------------------

Credential = tuple[str, str | None]  # (secret key, property): one value in the secret store, one line in .env


def env_file_variables(env: EnvironmentPlan) -> dict[Credential, str]:
    """The `.env` variable holding each secret value, one per secret-store entry, names never clashing.

    A declared secret keeps its own name (JWT_SECRET); a data store's credentials are named after
    the store (POSTGRES_PASSWORD), since every service using it gets the same ones.
    """
    taken = {SOURCE_VARIABLE, PGADMIN_PASSWORD_VARIABLE, *S3_VARIABLES}
    names: dict[Credential, str] = {}
    wanted: list[tuple[Credential, str]] = []
    for store in env.datastores:
        for part in credential_parts(store):
            wanted.append(((store.credentials, part), f"{_upper(store.name)}_{part.upper()}"))
    for service in env.services:
        wanted += [((ref.key, ref.property), ref.variable) for ref in service.secrets if ref.property is None]
    for credential, name in wanted:
        if credential in names:
            continue
        unique, counter = name, 2
        while unique in taken:
            unique, counter = f"{name}_{counter}", counter + 1
        names[credential] = unique
        taken.add(unique)
    return names


def credential_parts(store: DatastorePlan) -> tuple[str, ...]:
    return ("username", "password") if store.engine == "postgres" else ("password",)


def postgres_stores(env: EnvironmentPlan) -> list[DatastorePlan]:
    return [store for store in env.datastores if store.engine == "postgres"]


def required(variable: str) -> str:
    """A reference compose refuses to run without, saying where the value belongs."""
    return f"${{{variable}:?set {variable} in .env: run ./make-env.sh}}"


def network_name(env: EnvironmentPlan) -> str:
    """`net-<platform>`: compose reads a top-level key starting with `x-` as an extension, and a
    platform may well be named `x-shop`, so the key must not start with the platform's name alone."""
    return f"net-{env.platform}"


def pgadmin_name(env: EnvironmentPlan) -> str:
    """`pgadmin`, unless the platform already has a service or data store of that name."""
    taken = {s.name for s in env.services} | {d.name for d in env.datastores}
    name = "pgadmin"
    while name in taken:
        name += "-tool"
    return name


# -- the compose file -----------------------------------------------------------------------


def compose_file(env: EnvironmentPlan, folder: str, variables: Mapping[Credential, str]) -> Document:
    services: Document = {}
    for store in env.datastores:
        services[store.name] = datastore_service(env, store, variables)
    for service in env.services:
        services[service.name] = application_service(env, service, folder, variables)
    volumes: Document = {f"{store.name}-data": {} for store in env.datastores}
    if postgres_stores(env):
        services[pgadmin_name(env)] = pgadmin_service(env)
        volumes["pgadmin-data"] = {}
    if needs_stand_in(env):
        services[stand_in_name(env)] = stand_in_service(env, network_name(env), s3_port(env))
    document: Document = {"name": env.platform, "services": services,
                          "networks": {network_name(env): {"driver": "bridge"}}}
    if volumes:
        document["volumes"] = volumes
    return document


def datastore_service(env: EnvironmentPlan, store: DatastorePlan, variables: Mapping[Credential, str]) -> Document:
    if store.engine == "postgres":
        return postgres_service(env, store, variables)
    return redis_service(env, store, variables)


def postgres_service(env: EnvironmentPlan, store: DatastorePlan, variables: Mapping[Credential, str]) -> Document:
    volumes = [f"{store.name}-data:/var/lib/postgresql/data"]
    if store.databases:
        volumes.append(f"./initdb/{store.name}:/docker-entrypoint-initdb.d:ro")
    return {
        "image": f"postgres:{store.version}-alpine",
        "command": ["postgres", "-c", f"port={store.port}"],
        "environment": {
            "POSTGRES_USER": required(variables[(store.credentials, "username")]),
            "POSTGRES_PASSWORD": required(variables[(store.credentials, "password")]),
            "POSTGRES_DB": "postgres",
            "PGPORT": str(store.port),  # for pg_isready and the init script inside the container
        },
        "ports": [local_port(store.port)],
        "volumes": volumes,
        "healthcheck": healthcheck(["CMD-SHELL", 'pg_isready --host 127.0.0.1 --username "$${POSTGRES_USER}" '
                                    "--dbname postgres"]),
        "networks": [network_name(env)],
    }


def redis_service(env: EnvironmentPlan, store: DatastorePlan, variables: Mapping[Credential, str]) -> Document:
    return {
        "image": f"redis:{store.version}-alpine",
        # Through the shell, so the password is read from the environment, not written in the file.
        "command": ["sh", "-c", f'exec redis-server --port {store.port} --requirepass "$${{REDIS_PASSWORD}}" '
                    "--appendonly yes"],
        "environment": {"REDIS_PASSWORD": required(variables[(store.credentials, "password")])},
        "ports": [local_port(store.port)],
        "volumes": [f"{store.name}-data:/data"],
        # REDISCLI_AUTH keeps the password off redis-cli's command line and its warning out of the log.
        "healthcheck": healthcheck(["CMD-SHELL", f'REDISCLI_AUTH="$${{REDIS_PASSWORD}}" redis-cli -p {store.port} ping '
                                    "| grep -q PONG"]),
        "networks": [network_name(env)],
    }


def application_service(env: EnvironmentPlan, service: ServicePlan, folder: str,
                        variables: Mapping[Credential, str]) -> Document:
    document: Document = {
        "build": {
            "context": f"${{{SOURCE_VARIABLE}:-{repository_root(folder)}}}",
            "dockerfile": service.dockerfile,  # relative to the repository root, as CI builds it
            "args": {name: escape(value) for name, value in service.build_args.items()},  # commands may hold $
        },
        "image": f"{service.image}:dev",  # a local tag that never shadows a pushed one
        # the image's CMD replaced, its tini entrypoint kept, as in Kubernetes
        **({"command": [escape(word) for word in service.command]} if service.command else {}),
        **({"ports": [local_port(service.port)]} if service.port is not None else {}),
        "environment": service_environment(env, service, variables),
        # Compose has no scheduler: a cron job runs once, when asked (`docker compose run --rm <job>`).
        **({"profiles": [JOBS_PROFILE]} if service.cron else
           {"healthcheck": healthcheck(["CMD", *health_command(service)])}),
        "networks": [network_name(env)],
    }
    depends_on = {store: {"condition": "service_healthy"} for store in service.uses}
    if service.buckets:  # S3Mock's image has no shell or client to check its health with
        depends_on[stand_in_name(env)] = {"condition": "service_started"}
    if depends_on:
        document["depends_on"] = depends_on
    return document


def service_environment(env: EnvironmentPlan, service: ServicePlan,
                        variables: Mapping[Credential, str]) -> dict[str, str]:
    """What the Kubernetes ConfigMaps and Secret give it: shared config, its own config, its secrets."""
    environment = {name: escape(value) for name, value in {**env.config, **env.service_config(service)}.items()}
    for ref in service.secrets:
        environment[ref.variable] = required(variables[(ref.key, ref.property)])
    for store, variable in env.connection_urls(service).items():
        environment[variable] = connection_url(env.datastore(store), service, variables)
    environment.update(stand_in_environment(env, service, required))
    return dict(sorted(environment.items()))


def connection_url(store: DatastorePlan, service: ServicePlan, variables: Mapping[Credential, str]) -> str:
    """DATABASE_URL or REDIS_URL as in the cloud, but plain TCP: the local stores have no certificate (the cloud's
    URLs verify TLS, docs/kubernetes.md). make-env.sh's values are hex, which a URL takes unescaped."""
    password = required(variables[(store.credentials, "password")])
    if store.engine == "redis":
        return f"redis://:{password}@{store.host}:{store.port}"
    user = required(variables[(store.credentials, "username")])
    return f"postgresql://{user}:{password}@{store.host}:{store.port}/{service.database}?sslmode=disable"


def pgadmin_service(env: EnvironmentPlan) -> Document:
    return {
        "image": PGADMIN_IMAGE,
        "profiles": [TOOLS_PROFILE],
        "environment": {
            "PGADMIN_DEFAULT_EMAIL": f"admin@{env.domain}",
            "PGADMIN_DEFAULT_PASSWORD": required(PGADMIN_PASSWORD_VARIABLE),
        },
        "ports": [f"127.0.0.1:{pgadmin_port(env)}:80"],
        "volumes": ["pgadmin-data:/var/lib/pgadmin"],
        "depends_on": {store.name: {"condition": "service_healthy"} for store in postgres_stores(env)},
        "networks": [network_name(env)],
    }


def pgadmin_port(env: EnvironmentPlan) -> int:
    """The seed's 5050 on the host, or the next port no service or data store publishes."""
    taken = listening_ports(env)
    port = PGADMIN_PORT
    while port in taken:
        port += 1
    return port


def s3_port(env: EnvironmentPlan) -> int:
    """The S3 stand-in's port on the laptop, clear of every port the services, data stores and pgAdmin publish."""
    taken = listening_ports(env)
    return stand_in_port(env, taken | ({pgadmin_port(env)} if postgres_stores(env) else set()))


def listening_ports(env: EnvironmentPlan) -> set[int]:
    """The ports the services and data stores publish on the laptop."""
    return {s.port for s in env.services if s.port is not None} | {d.port for d in env.datastores}


def healthcheck(test: list[str]) -> Document:
    return {"test": test, "interval": "10s", "timeout": "5s", "retries": 5, "start_period": "20s"}


def local_port(port: int) -> str:
    """Published on the loopback address only: development passwords must not face the network."""
    return f"127.0.0.1:{port}:{port}"


def escape(value: str) -> str:
    """A literal value, safe from compose's `${...}` interpolation."""
    return value.replace("$", "$$")


def repository_root(folder: str) -> str:
    """From `<out>/<platform>/<folder>` back to the folder holding `<out>`."""
    return "/".join([".."] * (folder.count("/") + 3))


def _upper(name: str) -> str:
    return name.upper().replace("-", "_")


def _lower(name: str) -> str:
    return name.replace("-", "_")


# -- beside the compose file ----------------------------------------------------------------


def env_example(env: EnvironmentPlan, folder: str, variables: Mapping[Credential, str]) -> str:
    """Every variable the compose file needs; secrets are left empty for `make-env.sh` (or you) to fill."""
    lines = [
        f"# Local development settings for {env.platform} ({env.name}). `./make-env.sh` copies them to .env",
        "# beside docker-compose.yml, with a fresh random value for every empty one. .env is read by",
        "# `docker compose` and never committed; deployed environments read their secrets from AWS Secrets Manager.",
        "",
        "# The application's repository (package.json, nx.json, apps/, libs/, and generated/, which holds the",
        "# Dockerfile), relative to this folder: the build context, as in CI.",
        f"{SOURCE_VARIABLE}={repository_root(folder)}",
    ]
    for store in env.datastores:
        users = ", ".join(store.users) or "no service"
        lines += ["", f"# {store.name}: {store.engine} {store.version}, used by {users}"]
        for part in credential_parts(store):
            value = f"{_lower(store.name)}_owner" if part == "username" else ""
            lines.append(f"{variables[(store.credentials, part)]}={value}")
    declared = sorted({(ref.key, variables[(ref.key, ref.property)]) for s in env.services for ref in s.secrets
                       if ref.property is None}, key=lambda item: item[1])
    if declared:
        lines += ["", "# Service secrets (in AWS Secrets Manager under the name shown)"]
        for key, name in declared:
            lines += [f"# {key}", f"{name}="]
    lines += env_example_lines(env, s3_port(env))
    if postgres_stores(env):
        lines += ["", f"# pgAdmin (`docker compose --profile {TOOLS_PROFILE} up`) on http://localhost:{pgadmin_port(env)},",
                  f"# signing in as admin@{env.domain}", f"{PGADMIN_PASSWORD_VARIABLE}="]
    return "\n".join(lines) + "\n"


MAKE_ENV = """#!/usr/bin/env bash
# Writes .env beside this script from .env.example, giving every empty variable a fresh random value.
# An existing .env is kept: only the variables it lacks are added, so rerun it after a spec change.
set -euo pipefail
cd "$(dirname "$0")"
touch .env
chmod 600 .env
while IFS= read -r line; do
  if [[ -z "$line" || "$line" == "#"* ]]; then
    continue
  fi
  name="${line%%=*}"
  value="${line#*=}"
  if grep -q "^$name=" .env; then
    continue
  fi
  if [[ -z "$value" ]]; then
    value="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n')"
  fi
  printf '%s=%s\\n' "$name" "$value" >> .env
  echo "added $name to .env"
done < .env.example
"""


def init_script(store: DatastorePlan) -> str:
    creates = "\n".join(f'create_database "{database}"' for database in store.databases)
    return f"""#!/usr/bin/env bash
# Creates one database per service that uses {store.name}, owned by POSTGRES_USER.
# The postgres image runs this once, when the {store.name}-data volume is empty;
# run `docker compose down --volumes` to start again from nothing.
set -euo pipefail

create_database() {{
  local database="$1"
  local exists
  exists="$(psql --username "$POSTGRES_USER" --dbname postgres --tuples-only --no-align \\
    --command "SELECT 1 FROM pg_database WHERE datname = '$database'")"
  if [[ -z "$exists" ]]; then
    createdb --username "$POSTGRES_USER" --owner "$POSTGRES_USER" "$database"
    echo "created database $database"
  fi
}}

{creates}
"""
