"""The database bootstrap: per PostgreSQL store, a Job that creates the services' databases, each with the role of
the same name that owns it alone, and the exporter's monitoring role, with the master user, since Terraform cannot
reach a private database without a second provider.

The init container reads the RDS-managed master secret (its own IAM role, EKS Pod Identity) and writes a pgpass
into a memory-backed volume; the main container runs `bootstrap.sql` with psql. The SQL only creates what is
missing and always sets the roles' passwords, so a re-run (a new database, a rotated password) is safe. The passwords
reach psql as environment variables from the Job's ExternalSecret, never as arguments (`ps` shows those to anyone on
the node).
"""

from __future__ import annotations

from bizinfra.naming import ROLLOUT_TIMEOUT_SECONDS
from bizinfra.plan import (
    DATABASE_EXPORTER_USER,
    DATABASE_MASTER_USER,
    DatabaseBootstrap,
    DatabaseRole,
    DatastorePlan,
    EnvironmentPlan,
)
from bizinfra.targets.kubernetes.addons import secret_store_ref
from bizinfra.targets.kubernetes.common import Manifest, hardened_container, hardened_pod, metadata

# Official images, pinned by digest (a tag can be moved; the digest names the bytes, so the Job runs what was
# reviewed): the AWS CLI's own (its Amazon Linux 2 base brings the Python that reads the secret's JSON), and
# PostgreSQL's alpine image for psql, 17.5 for every store, since psql connects to servers of its major and older.
# The digests are the multi-platform indexes, as published on Docker Hub and pinned alike by several public projects.
AWS_CLI_IMAGE = "amazon/aws-cli:2.27.50@sha256:48c3d4212e2f5b0e24bdc6af7708f9412ce65425a79575e0f78b8f8c0dcd70ab"
PSQL_IMAGE = "postgres:17.5-alpine@sha256:6567bca8d7bc8c82c5922425a0baee57be8402df92bae5eacad5f01ae9544daa"
BACKOFF_LIMIT = 4  # a database still starting refuses connections for a while: retry, each in a new pod
DEADLINE_SECONDS = ROLLOUT_TIMEOUT_SECONDS  # as long as the deploy job waits for it
TTL_SECONDS = 86400  # a finished Job and its pod's logs are kept a day, then removed
CREDENTIALS = "/credentials"  # the memory-backed volume holding the pgpass
SCRIPTS = "/bootstrap"  # the ConfigMap: bootstrap.sql and pgpass.py

# The master secret's ARN is chosen by RDS, so the init container asks RDS for it; the secret's JSON goes
# straight into pgpass.py and never touches a disk.
READ_MASTER_SECRET = f"""\
set -eu
umask 077
arn="$(aws rds describe-db-instances --db-instance-identifier "$DB_INSTANCE" \\
  --query 'DBInstances[0].MasterUserSecret.SecretArn' --output text)"
aws secretsmanager get-secret-value --secret-id "$arn" --query SecretString --output text \\
  | python {SCRIPTS}/pgpass.py > {CREDENTIALS}/pgpass
"""

# Python 2 and 3 alike: the line libpq reads, with `\\` and `:` escaped as the pgpass format wants.
PGPASS = """\
import json
import os
import sys


def escape(value):
    return value.replace("\\\\", "\\\\\\\\").replace(":", "\\\\:")


secret = json.load(sys.stdin)
fields = [os.environ["PGHOST"], os.environ["PGPORT"], "*", secret["username"], secret["password"]]
sys.stdout.write(":".join(escape(field) for field in fields) + "\\n")
"""


def bootstrap_documents(env: EnvironmentPlan) -> list[Manifest]:
    documents = []
    for bootstrap in env.database_bootstraps:
        store = env.datastore(bootstrap.store)
        documents += [service_account(env, bootstrap), scripts(env, bootstrap, store),
                      app_credentials(env, bootstrap, store), job(env, bootstrap, store)]
    return documents


def service_account(env: EnvironmentPlan, bootstrap: DatabaseBootstrap) -> Manifest:
    # Its IAM role comes from EKS Pod Identity (Terraform associates it); it never calls the Kubernetes API.
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": metadata(env, bootstrap.identity.service_account, bootstrap.labels),
            "automountServiceAccountToken": False}


def scripts(env: EnvironmentPlan, bootstrap: DatabaseBootstrap, store: DatastorePlan) -> Manifest:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(env, bootstrap.name, bootstrap.labels),
            "data": {"bootstrap.sql": bootstrap_sql(store), "pgpass.py": PGPASS}}


LEGACY_SHARED_ROLE = "app"  # the one role that owned every database before each database had its own
EXPORTER_PASSWORD = "EXPORTER_PASSWORD"  # the Secret key, and variable, of the exporter role's password


def password_variable(role: DatabaseRole) -> str:
    """The Secret key, and the Job's environment variable, holding a database role's password: PASSWORD_<ROLE>
    (role names are lower case, so upper case keeps them apart)."""
    return f"PASSWORD_{role.name.upper()}"


def passwords(store: DatastorePlan) -> dict[str, str]:
    """Each password the Job sets: its environment variable -> the psql variable the script reads it into."""
    return {**{password_variable(role): f"pw_{role.name}" for role in store.roles}, EXPORTER_PASSWORD: "exporter_pw"}


def app_credentials(env: EnvironmentPlan, bootstrap: DatabaseBootstrap, store: DatastorePlan) -> Manifest:
    """Each database role's password, from the secret its services read theirs from, and the exporter role's,
    from the secret its exporter reads."""
    data = [{"secretKey": password_variable(role), "remoteRef": {"key": role.credentials, "property": "password"}}
            for role in store.roles]
    data.append({"secretKey": EXPORTER_PASSWORD,
                 "remoteRef": {"key": env.exporter(store.name).credentials, "property": "password"}})
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": metadata(env, bootstrap.name, bootstrap.labels),
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": secret_store_ref(),
            "target": {"name": bootstrap.name, "creationPolicy": "Owner"},
            "data": data,
        },
    }


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def bootstrap_sql(store: DatastorePlan) -> str:
    """Idempotent: creates each role and database only when missing, and always sets the roles' passwords and each
    database's owner.

    Each database has its own login role, which owns it and nothing else; CONNECT (and TEMP) are revoked from
    PUBLIC, so a role reaches its own database only. Each password is a psql variable read from the environment by
    a backquoted `printf` (psql's `\\getenv` needs psql 15), quoted as a literal by `:'pw_<role>'` and by `format`'s
    `%L` again for the statement: never part of this text, nor of any command line; written apart from the word
    `password`, which secret scans would read as an assignment. CREATE DATABASE cannot run in a transaction or a DO
    block, hence `\\gexec`. The exporter's role only joins `pg_monitor` (read the statistics views and settings)
    and owns nothing.
    """
    variables = passwords(store)
    lines = ["\\set ON_ERROR_STOP on"]
    lines += [f"\\set {variable} `printf '%s' \"${secret}\"`" for secret, variable in variables.items()]
    for role in store.roles:
        name, database = quote_identifier(role.name), quote_identifier(role.database)
        literal = quote_literal(role.database)
        lines += [
            *login_role(role.name, variables[password_variable(role)]),
            # The master user (rds_superuser, not a superuser) may give a database to a role only as its member.
            f"grant {name} to current_user;",
            f"select 'create database {database} owner {name}'"
            f" where not exists (select from pg_database where datname = {literal}) \\gexec",
            f"alter database {database} owner to {name};",
            f"revoke all on database {database} from public;",
        ]
    exporter = quote_identifier(DATABASE_EXPORTER_USER)
    lines += [*login_role(DATABASE_EXPORTER_USER, variables[EXPORTER_PASSWORD]), f"grant pg_monitor to {exporter};"]
    return "\n".join(lines + from_shared_role(store)) + "\n"


def from_shared_role(store: DatastorePlan) -> list[str]:
    """Upgrading from bizinfra's former shared role `app`, which owned every database and the tables migrations made
    in them: while it may log in, each database's role takes what it owns there and the privileges it held go
    (REASSIGN and DROP OWNED work in the database they run in, hence `\\connect`; the master user is a member of
    both roles), then it may no longer log in (its password was in a secret Terraform no longer keeps). Not dropped:
    a database the spec no longer names may still hold its objects. Nothing to do when a database is itself called
    `app`: its role is that name."""
    legacy = quote_identifier(LEGACY_SHARED_ROLE)
    if any(role.name == LEGACY_SHARED_ROLE for role in store.roles):
        return []
    lines = [f"select exists (select from pg_roles where rolname = {quote_literal(LEGACY_SHARED_ROLE)} and rolcanlogin)"
             " as shared_role \\gset", "\\if :shared_role"]
    for role in store.roles:
        lines += [f"\\connect {role.database}",
                  f"reassign owned by {legacy} to {quote_identifier(role.name)};", f"drop owned by {legacy};"]
    return [*lines, "\\connect postgres", f"alter role {legacy} nologin;", "\\endif"]


def login_role(name: str, variable: str) -> list[str]:
    """Create the role when missing, and (always) set its password from a psql variable."""
    role, literal = quote_identifier(name), quote_literal(name)
    return [f"select 'create role {role} login' where not exists (select from pg_roles where rolname = {literal})"
            " \\gexec",
            f"select format('alter role %I with login password %L', {literal}, :'{variable}') \\gexec"]


def job(env: EnvironmentPlan, bootstrap: DatabaseBootstrap, store: DatastorePlan) -> Manifest:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(env, bootstrap.name, bootstrap.labels),
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "activeDeadlineSeconds": DEADLINE_SECONDS,
            "ttlSecondsAfterFinished": TTL_SECONDS,
            "template": {
                "metadata": {"labels": dict(bootstrap.labels)},
                "spec": {
                    "serviceAccountName": bootstrap.identity.service_account,
                    # The Pod Identity webhook mounts its own token; the Kubernetes API token is not needed.
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "restartPolicy": "Never",  # each retry is a new pod that reads the secret again
                    "securityContext": hardened_pod(),
                    "initContainers": [read_master_secret(env, store)],
                    "containers": [run_sql(bootstrap, store)],
                    "volumes": [
                        {"name": "credentials", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
                        {"name": "scripts", "configMap": {"name": bootstrap.name, "defaultMode": 0o444}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                    ],
                },
            },
        },
    }


def variables(values: dict[str, str]) -> list[Manifest]:
    return [{"name": key, "value": value} for key, value in values.items()]


def connection(store: DatastorePlan) -> dict[str, str]:
    return {"PGHOST": store.host, "PGPORT": str(store.port)}


def read_master_secret(env: EnvironmentPlan, store: DatastorePlan) -> Manifest:
    return {
        "name": "read-master-secret",
        "image": AWS_CLI_IMAGE,
        "imagePullPolicy": "Always",
        "command": ["/bin/sh", "-c", READ_MASTER_SECRET],
        "env": variables({"DB_INSTANCE": store.identifier, "AWS_REGION": env.region, **connection(store),
                          "AWS_PAGER": "", "HOME": "/tmp"}),
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "securityContext": hardened_container(),
        "volumeMounts": [{"name": "credentials", "mountPath": CREDENTIALS},
                         {"name": "scripts", "mountPath": SCRIPTS, "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }


def run_sql(bootstrap: DatabaseBootstrap, store: DatastorePlan) -> Manifest:
    """psql runs the script; the passwords come from the Secret as environment variables, which the script reads."""
    return {
        "name": "bootstrap",
        "image": PSQL_IMAGE,
        "imagePullPolicy": "Always",
        "command": ["psql", "--no-psqlrc", "--file", f"{SCRIPTS}/bootstrap.sql"],
        "env": [
            *variables({**connection(store), "PGUSER": DATABASE_MASTER_USER, "PGDATABASE": "postgres",
                        # RDS refuses plain connections (rds.force_ssl); `require` encrypts without checking the CA.
                        "PGSSLMODE": "require", "PGPASSFILE": f"{CREDENTIALS}/pgpass", "PGCONNECT_TIMEOUT": "10",
                        "PGAPPNAME": bootstrap.name}),
            *({"name": secret, "valueFrom": {"secretKeyRef": {"name": bootstrap.name, "key": secret}}}
              for secret in passwords(store)),
        ],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "250m", "memory": "128Mi"}},
        "securityContext": hardened_container(),
        "volumeMounts": [{"name": "credentials", "mountPath": CREDENTIALS, "readOnly": True},
                         {"name": "scripts", "mountPath": SCRIPTS, "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }
