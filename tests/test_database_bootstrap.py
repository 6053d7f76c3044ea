"""The database bootstrap: per PostgreSQL store and Kubernetes environment, a Job that creates the application role
and the services' databases with the RDS-managed master secret, its IAM role, its NetworkPolicy, the deploy job's
wait for it, and the spec's refusal of a service that would take its name. Where a PostgreSQL server is
installed, the generated SQL runs twice against it.

Expected values come from the spec (stores, engines, versions, ports, who uses what), never from the plan."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from pydantic import ValidationError

from bizinfra.naming import BOOTSTRAP_COMPONENT
from bizinfra.plan import resolve
from bizinfra.render import render
from bizinfra.spec.models import Platform
from bizinfra.targets.github import compile_github
from bizinfra.targets.terraform import environment_files
from tests.strategies import platforms
from tests.support import bundled_platform, postgres_server_tool
from tests.support.kubernetes import Document, environments, kustomization, named, of_kind, rendered

KMS_KEY = "${aws_kms_key.main.arn}"


def postgres_stores(platform: Platform) -> dict[str, Any]:
    return {name: store for name, store in platform.datastores.items() if store.engine == "postgres"}


def databases(platform: Platform, store: str) -> list[str]:
    return sorted({s.database or name.replace("-", "_") for name, s in platform.services.items() if store in s.uses})


def bootstrap_documents(files: dict[str, bytes], env: str) -> list[Document]:
    data = files.get(f"kubernetes/{env}/database-bootstrap.yaml")
    return [d for d in yaml.safe_load_all(data) if d] if data else []


def sql_of(documents: list[Document], store: str) -> str:
    text: str = named(documents, "ConfigMap", f"{store}-bootstrap")["data"]["bootstrap.sql"]
    return text


# -- the Job --------------------------------------------------------------------------------------------------------


@pytest.mark.slow
@given(platforms())
def test_one_bootstrap_job_per_postgres_store_in_every_kubernetes_environment(platform: Platform) -> None:
    files = rendered(platform)
    stores = postgres_stores(platform)
    for env, documents in environments(files).items():
        # the bootstraps' Jobs, by their component label: the services' migration Jobs are Jobs too
        jobs = {d["metadata"]["name"]: d for d in of_kind(documents, "Job")
                if d["metadata"]["labels"].get("app.kubernetes.io/component") == BOOTSTRAP_COMPONENT}
        assert set(jobs) == {f"{store}-bootstrap" for store in stores}
        listed = kustomization(files, env)["resources"]
        assert ("database-bootstrap.yaml" in listed) == bool(stores)
        assert {d["metadata"]["name"] for d in of_kind(bootstrap_documents(files, env), "Job")} == set(jobs)
        for store, spec in stores.items():
            job = jobs[f"{store}-bootstrap"]["spec"]
            assert job["backoffLimit"] > 0 and job["ttlSecondsAfterFinished"] > 0
            assert 0 < job["activeDeadlineSeconds"] <= 600  # the deploy job waits 10 minutes at most
            pod = job["template"]["spec"]
            assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
            assert pod["serviceAccountName"] in {d["metadata"]["name"] for d in of_kind(documents, "ServiceAccount")}
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            (init,), (main,) = pod["initContainers"], pod["containers"]
            # pinned by digest, each: a tag can be moved, a digest names the bytes
            assert re.fullmatch(r"amazon/aws-cli:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}", init["image"])
            psql = re.fullmatch(r"postgres:(\d+)\.\d+-alpine@sha256:[0-9a-f]{64}", main["image"])
            assert psql and int(psql[1]) >= int(spec.version.split(".")[0])  # psql reaches its major and older
            for container in (init, main):
                context = container["securityContext"]
                assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
                assert context["runAsNonRoot"] is True and context["capabilities"] == {"drop": ["ALL"]}
                assert context["seccompProfile"] == {"type": "RuntimeDefault"}
                assert set(container["resources"]) == {"requests", "limits"}
            # the pgpass lives in memory only, written by the init container, read-only for psql
            volumes = {v["name"]: v for v in pod["volumes"]}
            (written,) = [m for m in init["volumeMounts"] if not m.get("readOnly")
                          and volumes[m["name"]].get("emptyDir", {}).get("medium") == "Memory"]
            assert {"name": written["name"], "mountPath": written["mountPath"], "readOnly": True} in \
                main["volumeMounts"]
            main_env = {e["name"]: e for e in main["env"]}
            assert main_env["PGPASSFILE"]["value"].startswith(written["mountPath"] + "/")
            assert main_env["PGSSLMODE"]["value"] == "require"
            assert main_env["PGPORT"]["value"] == str(platform.datastore_port(store))
            # the roles' passwords: from the Job's ExternalSecret, each database role's from the secret its services
            # read, the exporter role's from its own; as environment variables, never on the command line
            external = named(documents, "ExternalSecret", f"{store}-bootstrap")
            assert [(d["secretKey"], d["remoteRef"]) for d in external["spec"]["data"]] == [
                *((f"PASSWORD_{database.upper()}", {"key": f"{platform.name}/{env}/{store}/{database}",
                                                     "property": "password"}) for database in databases(platform, store)),
                ("EXPORTER_PASSWORD", {"key": f"{platform.name}/{env}/{store}/exporter", "property": "password"})]
            for item in external["spec"]["data"]:
                assert main_env[item["secretKey"]]["valueFrom"]["secretKeyRef"] == \
                    {"name": external["spec"]["target"]["name"], "key": item["secretKey"]}
            assert main["command"][0] == "psql" and not any("PASSWORD" in word for word in main["command"])
            assert not any(word in main["command"] for word in ("sh", "/bin/sh", "bash", "-c"))


def test_the_sql_is_idempotent_in_form_and_holds_no_password() -> None:
    platform = bundled_platform()
    files = rendered(platform, "specs/business-app.yaml")
    for env in ("staging", "production"):
        sql = sql_of(bootstrap_documents(files, env), "postgres")
        statements = [line for line in sql.splitlines() if line and not line.startswith("\\set")]
        for line in statements:  # every create runs only when what it creates is missing
            if re.search(r"\bcreate (role|database)\b", line):
                assert line.startswith("select '") and " where not exists (select from " in line, line
                assert line.endswith("\\gexec"), line
        created = re.findall(r"create database \"([a-z0-9_]+)\" owner \"([a-z0-9_]+)\"", sql)
        assert created == [(database, database) for database in databases(platform, "postgres")]
        for database in databases(platform, "postgres"):  # its own role, owning it, its password always set
            assert f"alter role %I with login password %L', '{database}', :'pw_{database}') \\gexec" in sql
            assert f'alter database "{database}" owner to "{database}";' in sql
            assert f'revoke all on database "{database}" from public;' in sql
            assert f"\\set pw_{database} `printf '%s' \"$PASSWORD_{database.upper()}\"`" in sql.splitlines()
        # no shared role owning every database: the former one, `app`, only loses what it had, while it may log in
        shared = sql[sql.index("\\if :shared_role"):]
        assert '"app"' not in sql[:-len(shared)] and shared.endswith('alter role "app" nologin;\n\\endif\n')
        assert "\\set ON_ERROR_STOP on" in sql.splitlines()[0]
        # each password read from the environment into its variable, and used only as that variable
        assert "\\set exporter_pw `printf '%s' \"$EXPORTER_PASSWORD\"`" in sql.splitlines()
        used = re.sub(r":'(pw_[a-z0-9_]+|exporter_pw)'", "", sql)
        used = re.sub(r"^\\set (pw_[a-z0-9_]+|exporter_pw) .*$", "", used, flags=re.M)
        assert "pw" not in used
        # the exporter's role: created when missing, its password always set, pg_monitor and nothing else
        assert "alter role %I with login password %L', 'exporter', :'exporter_pw') \\gexec" in sql
        assert [line for line in sql.splitlines() if '"exporter"' in line and "grant" in line] == \
            ['grant pg_monitor to "exporter";']


# -- its IAM role ---------------------------------------------------------------------------------------------------


@given(platforms())
def test_the_bootstrap_role_reads_exactly_its_stores_master_secret(platform: Platform) -> None:
    stores = postgres_stores(platform)
    for env in resolve(platform, "spec.yaml").on("kubernetes"):
        files = environment_files(env)
        documents = files["eks.tf.json"]["data"]["aws_iam_policy_document"]
        associations = files["eks.tf.json"]["resource"]["aws_eks_pod_identity_association"]
        for store in stores:
            label = f"{store}_bootstrap".replace("-", "_")
            statements = {tuple(s["actions"]): s for s in documents[label]["statement"]}
            assert set(statements) == {("rds:DescribeDBInstances",), ("secretsmanager:GetSecretValue",),
                                       ("kms:Decrypt",)}
            assert statements[("secretsmanager:GetSecretValue",)]["resources"] == \
                [f"${{aws_db_instance.{store}.master_user_secret[0].secret_arn}}"]
            assert statements[("rds:DescribeDBInstances",)]["resources"] == [f"${{aws_db_instance.{store}.arn}}"]
            decrypt = statements[("kms:Decrypt",)]
            assert decrypt["resources"] == [KMS_KEY]
            assert decrypt["condition"] == [{"test": "StringEquals", "variable": "kms:ViaService",
                                             "values": [f"secretsmanager.{platform.region}.amazonaws.com"]}]
            assert all(s["effect"] == "Allow" for s in statements.values())
            association = associations[label]
            assert (association["namespace"], association["service_account"]) == \
                (platform.name, f"{store}-bootstrap")
            assert association["role_arn"] == f"${{aws_iam_role.{label}.arn}}"
        others = {label for label in associations if label.endswith("_bootstrap")}
        assert others == {f"{store}_bootstrap".replace("-", "_") for store in stores}


# -- its network policy ---------------------------------------------------------------------------------------------


@given(platforms())
def test_the_bootstrap_may_reach_only_its_store_dns_and_https(platform: Platform) -> None:
    plan = resolve(platform, "spec.yaml")
    for env, documents in environments(rendered(platform)).items():
        network = next(e for e in plan.environments if e.name == env).network
        for store in postgres_stores(platform):
            job = named(documents, "Job", f"{store}-bootstrap")
            labels = job["spec"]["template"]["metadata"]["labels"]
            policies = [p["spec"] for p in of_kind(documents, "NetworkPolicy")
                        if all(labels.get(k) == v for k, v in p["spec"]["podSelector"].get("matchLabels", {}).items())]
            ingress = [rule for p in policies for rule in p.get("ingress", [])]
            assert ingress == []
            egress = {(json.dumps(peer, sort_keys=True), port["protocol"], port["port"])
                      for p in policies for rule in p.get("egress", []) for peer in rule["to"] for port in rule["ports"]}
            dns = json.dumps({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                              "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}, sort_keys=True)
            expected = {(dns, "UDP", 53), (dns, "TCP", 53),
                        (json.dumps({"ipBlock": {"cidr": "0.0.0.0/0", "except": [platform.network.cidr]}},
                                    sort_keys=True), "TCP", 443),
                        (json.dumps({"ipBlock": {"cidr": "169.254.170.23/32"}}), "TCP", 80)}
            expected |= {(json.dumps({"ipBlock": {"cidr": cidr}}), "TCP", platform.datastore_port(store))
                         for cidr in network.private_subnets}
            assert egress == expected


# -- the deploy job waits for it ------------------------------------------------------------------------------------


@given(platforms())
def test_the_deploy_job_waits_for_the_bootstrap_before_any_rollout(platform: Platform) -> None:
    plan = resolve(platform, "spec.yaml")
    (workflow,) = [yaml.safe_load(render(a, "spec.yaml")) for a in compile_github(plan) if a.path.endswith("ci-cd.yml")]
    stores = postgres_stores(platform)
    for env in ("staging", "production"):
        steps = workflow["jobs"][f"deploy-{env}"]["steps"]
        waits = [i for i, step in enumerate(steps) if "kubectl wait --for condition=complete" in step.get("run", "")]
        assert sorted(steps[i]["env"]["JOB"] for i in waits) == sorted(f"{store}-bootstrap" for store in stores)
        for i in waits:
            assert '"job/$JOB"' in steps[i]["run"] and '--timeout "$TIMEOUT"' in steps[i]["run"]
        # the workloads start with the release's apply, the only one of workloads.yaml
        rollouts = [i for i, step in enumerate(steps) if "--applyset" in step.get("run", "")]
        assert rollouts and all(wait < min(rollouts) for wait in waits)


# -- the spec keeps the name free -------------------------------------------------------------------------------------


def test_a_service_named_like_a_postgres_bootstrap_is_refused() -> None:
    spec = {"name": "shop", "domain": "shop.example.com",
            "services": {"cart": {"port": 3000, "uses": ["orders"]}, "orders-bootstrap": {"port": 3001}},
            "datastores": {"orders": {"engine": "postgres", "version": "16"}}}
    with pytest.raises(ValidationError, match="'orders-bootstrap' is the name of the Job that bootstraps data store "
                                              "'orders'; name the service differently"):
        Platform.model_validate(spec)
    # a Redis store has no bootstrap, so the name is free there
    Platform.model_validate({**spec, "datastores": {"orders": {"engine": "redis", "version": "7"}}})


@pytest.mark.parametrize("engine", ["postgres", "redis"])
def test_a_service_named_like_a_store_s_exporter_is_refused(engine: str) -> None:
    spec = {"name": "shop", "domain": "shop.example.com",
            "services": {"cart": {"port": 3000, "uses": ["orders"]}, "orders-exporter": {"port": 3001}},
            "datastores": {"orders": {"engine": engine, "version": "16" if engine == "postgres" else "7"}}}
    with pytest.raises(ValidationError, match="'orders-exporter' is the name of the exporter of data store "
                                              "'orders'; name the service differently"):
        Platform.model_validate(spec)


# -- the SQL against a real PostgreSQL ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def postgres_server() -> Iterator[dict[str, str]]:
    """A throwaway PostgreSQL on 127.0.0.1 with an RDS-like master: CREATEROLE and CREATEDB, not a superuser.
    `.ci/run` installs Debian's postgresql package, as it does prometheus for promtool."""
    initdb, pg_ctl = postgres_server_tool("initdb"), postgres_server_tool("pg_ctl")
    as_owner: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        runuser = shutil.which("runuser")
        if runuser is None or subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
            reason = "running as root with no postgres user to start the server as (Debian's package makes one)"
            if os.environ.get("CI"):
                pytest.fail(reason)
            pytest.skip(reason)
        as_owner = [runuser, "-u", "postgres", "--"]
    folder = Path(tempfile.mkdtemp(prefix="bizinfra-pg-"))
    if as_owner:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", str(_free_port())
    subprocess.run([*as_owner, initdb, "-D", str(data), "-U", "admin", "--auth-local=trust",
                    "--auth-host=scram-sha-256", "--no-sync"], check=True, capture_output=True)
    subprocess.run([*as_owner, pg_ctl, "-D", str(data), "-w", "-l", str(folder / "log"), "-o",
                    f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start"], check=True, capture_output=True)
    try:
        subprocess.run(["psql", "-X", "-h", str(folder), "-p", port, "-U", "admin", "-d", "postgres", "-c",
                        "create role postgres login createrole createdb password 'master:pass\\word'"],
                       check=True, capture_output=True)
        yield {"PGHOST": "127.0.0.1", "PGPORT": port, "folder": str(folder)}
    finally:
        subprocess.run([*as_owner, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        time.sleep(0.2)
        shutil.rmtree(folder, ignore_errors=True)


def _password(database: str, base: str) -> str:
    """Each role's password in these tests: distinct per role, and with every character a shell or SQL might trip on."""
    return f"{base} {database}"


def _run_job(job: Document, scripts: dict[str, str], server: dict[str, str], app_password: str,
             work: Path, exporter_password: str = "exporter-pass") -> subprocess.CompletedProcess[str]:
    """What the Job's two containers do, on this machine: pgpass.py on the master secret, then the psql command
    with the passwords in its environment, as the Secret puts them (each database role's `_password(database,
    app_password)`). The local server has no certificate, so no TLS."""
    (work / "bootstrap").mkdir(exist_ok=True)
    for name, text in scripts.items():
        (work / "bootstrap" / name).write_text(text)
    pgpass = work / "pgpass"
    secret = json.dumps({"username": "postgres", "password": "master:pass\\word"})
    line = subprocess.run(["python3", str(work / "bootstrap" / "pgpass.py")], input=secret, text=True,
                          capture_output=True, check=True, env={**os.environ, **server}).stdout
    pgpass.write_text(line)
    pgpass.chmod(0o600)
    main = job["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value", "") for e in main["env"]}
    for name in env:
        if name.startswith("PASSWORD_"):
            env[name] = _password(name.removeprefix("PASSWORD_").lower(), app_password)
    env.update(server, PGPASSFILE=str(pgpass), PGSSLMODE="disable", EXPORTER_PASSWORD=exporter_password)
    command = [argument.replace("/bootstrap/", f"{work}/bootstrap/") for argument in main["command"]]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env}, check=False)


def _log_in(server: dict[str, str], database: str, password: str, user: str | None = None,
            query: str = "select current_user, pg_catalog.pg_get_userbyid(datdba) from pg_database "
                         "where datname = current_database()") -> subprocess.CompletedProcess[str]:
    """psql as `user` (default: the database's own role) with the password in its environment, never as an argument."""
    return subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA", "-c", query], capture_output=True, text=True,
                          check=False,
                          env={**os.environ, "PGHOST": server["PGHOST"], "PGPORT": server["PGPORT"],
                               "PGUSER": user or database, "PGDATABASE": database, "PGPASSWORD": password,
                               "PGSSLMODE": "disable"})


def _bootstrapped(server: dict[str, str], work: Path, app_password: str = "app-pass",
                  exporter_password: str = "exporter-pass") -> list[str]:
    """Runs the bundled spec's staging bootstrap once; its databases."""
    platform = bundled_platform()
    documents = bootstrap_documents(rendered(platform, "specs/business-app.yaml"), "staging")
    job, scripts = named(documents, "Job", "postgres-bootstrap"), named(documents, "ConfigMap", "postgres-bootstrap")
    result = _run_job(job, scripts["data"], server, app_password, work, exporter_password)
    assert result.returncode == 0, result.stderr
    return databases(platform, "postgres")


def test_the_generated_sql_runs_twice_and_rotates_the_password(postgres_server: dict[str, str],
                                                               tmp_path: Path) -> None:
    platform = bundled_platform()
    documents = bootstrap_documents(rendered(platform, "specs/business-app.yaml"), "staging")
    job = named(documents, "Job", "postgres-bootstrap")
    scripts = named(documents, "ConfigMap", "postgres-bootstrap")["data"]
    tricky = "it's: a \"pass\\word\" $(x) `y`"
    for attempt in ("first", "again"):
        result = _run_job(job, scripts, postgres_server, tricky, tmp_path)
        assert result.returncode == 0, (attempt, result.stderr)
    for database in databases(platform, "postgres"):  # each database owned by its own role, which logs in
        logged_in = _log_in(postgres_server, database, _password(database, tricky))
        assert logged_in.stdout.strip() == f"{database}|{database}", logged_in.stderr
    # a rotated password: the next run sets it, and the old one stops working
    assert _run_job(job, scripts, postgres_server, "rotated", tmp_path).returncode == 0
    assert _log_in(postgres_server, "auth_service", _password("auth_service", "rotated")).returncode == 0
    assert _log_in(postgres_server, "auth_service", _password("auth_service", tricky)).returncode != 0


def test_a_migration_runs_as_its_service_s_role_which_cannot_reach_another_database(
        postgres_server: dict[str, str], tmp_path: Path) -> None:
    """The migration Job's SQL path: a service's role migrates its own database (creates tables, indexes, a schema),
    and can neither connect to another service's database nor act on its objects; no role shares a database."""
    mine, other, *_ = _bootstrapped(postgres_server, tmp_path)
    migration = ("create schema billing; create table billing.invoice (id bigserial primary key, total numeric);"
                 "create index on billing.invoice (total); insert into billing.invoice (total) values (12.5);"
                 "create table note (id int); select count(*) from billing.invoice")
    migrated = _log_in(postgres_server, mine, _password(mine, "app-pass"), query=migration)
    assert migrated.returncode == 0 and migrated.stdout.strip() == "1", migrated.stderr
    # the other service's role migrates its own database too, and both find only their own tables
    assert _log_in(postgres_server, other, _password(other, "app-pass"), query="create table note (id int)"
                   ).returncode == 0
    # A's role into B's database: CONNECT is revoked from PUBLIC and B's database is not A's
    refused = _log_in(postgres_server, other, _password(mine, "app-pass"), user=mine)
    assert refused.returncode != 0 and "permission denied for database" in refused.stderr, refused.stderr
    # nor may it become B's role, or take B's database
    for statement in (f'set role "{other}"', f'alter database "{other}" owner to "{mine}"',
                      f'drop database "{other}"', "create database stolen", "create role intruder"):
        attempt = _log_in(postgres_server, mine, _password(mine, "app-pass"), query=statement)
        assert attempt.returncode != 0, statement
    owners = _log_in(postgres_server, "postgres", "master:pass\\word", user="postgres",
                     query="select datname || '=' || pg_catalog.pg_get_userbyid(datdba) from pg_database "
                           "where datname not in ('postgres', 'template0', 'template1') order by 1")
    assert owners.stdout.split() == [f"{database}={database}" for database in databases(bundled_platform(), "postgres")]


def test_the_exporter_role_reads_statistics_and_owns_nothing(postgres_server: dict[str, str], tmp_path: Path) -> None:
    """postgres_exporter's role logs in to `postgres` with its own password, sees every backend through pg_monitor,
    may not connect to the services' databases, owns no database and cannot create one."""
    password = "exp: 'quoted' \"pass\" $(x) `y`"
    _bootstrapped(postgres_server, tmp_path, exporter_password=password)
    monitor = _log_in(postgres_server, "postgres", password, "exporter",
                      "select pg_has_role('pg_monitor', 'member'), rolcreatedb, rolcreaterole, rolsuper, "
                      "(select count(*) from pg_database where datdba = oid) from pg_roles where rolname = current_user")
    assert monitor.stdout.strip() == "t|f|f|f|0", monitor.stderr
    assert _log_in(postgres_server, "auth_service", password, "exporter").returncode != 0  # CONNECT revoked
    # and reads the statistics views the exporter queries
    seen = _log_in(postgres_server, "postgres", password, "exporter",
                   "select count(*) from pg_stat_activity where query is not null and usename <> current_user")
    assert seen.returncode == 0, seen.stderr


def test_an_upgrade_from_the_shared_role_gives_each_database_s_tables_to_its_own_role(
        postgres_server: dict[str, str], tmp_path: Path) -> None:
    """What the former bootstrap left (one role `app` owning every database and the tables its migrations made, and
    all privileges on them): the new Job gives each database, with its tables, to that database's role, and `app`
    may no longer log in."""
    master = {"user": "postgres", "password": "master:pass\\word"}
    legacy = ["create role app login password 'old'", "grant app to postgres"]
    names = databases(bundled_platform(), "postgres")
    legacy += [f"create database {name} owner app" for name in names]
    legacy += [f"grant all privileges on database {name} to app" for name in names]
    for statement in legacy:
        done = _log_in(postgres_server, "postgres", master["password"], master["user"], statement)
        assert done.returncode == 0, done.stderr
    for name in names:  # the old migrations, as app
        assert _log_in(postgres_server, name, "old", "app", "create table kept (id int); insert into kept values (1)"
                       ).returncode == 0
    _bootstrapped(postgres_server, tmp_path)
    for name in names:
        owned = _log_in(postgres_server, name, _password(name, "app-pass"),
                        query="select tableowner from pg_tables where tablename = 'kept'; "
                              "insert into kept values (2); select count(*) from kept")
        assert owned.stdout.split() == [name, "2"], owned.stderr
    assert _log_in(postgres_server, names[0], "old", "app").returncode != 0
    assert _bootstrapped(postgres_server, tmp_path)  # and again, with nothing left to upgrade


# -- each service logs in as its own database's role, reaching it with TLS that verifies ----------------------------------


@pytest.mark.slow
@given(platforms())
def test_each_service_logs_in_as_its_database_s_own_role_set_by_the_bootstrap(platform: Platform) -> None:
    """Over random platforms: a service's login is the secret of its own database's role, read by no service of
    another database; the bootstrap Job sets that role's password from the same secret; the connection strings read
    only keys their ExternalSecret fills, name the service's database, verify TLS against the mounted RDS CAs."""
    for env, documents in environments(rendered(platform)).items():
        bootstrap_keys = {item["remoteRef"]["key"] for d in of_kind(documents, "ExternalSecret")
                          if d["metadata"]["name"].endswith("-bootstrap") for item in d["spec"]["data"]}
        readers: dict[str, set[str]] = {}
        for name, spec in platform.services.items():
            stores = [store for store in spec.uses if store in postgres_stores(platform)]
            if not stores:
                continue
            database = spec.database or name.replace("-", "_")
            secret = named(documents, "ExternalSecret", f"{name}-secrets")["spec"]
            data = {item["secretKey"]: item["remoteRef"] for item in secret["data"]}
            for store in stores:
                prefix = platform.env_prefix(store)
                login = data[f"{prefix}_USERNAME"]["key"]
                assert login == f"{platform.name}/{env}/{store}/{database}" == data[f"{prefix}_PASSWORD"]["key"]
                assert login in bootstrap_keys
                readers.setdefault(login, set()).add(database)
            if len(stores) == 1:
                url = secret["target"]["template"]["data"]["DATABASE_URL"]
                assert set(re.findall(r"\{\{ \.(\w+)", url)) <= set(data)
                assert f"/{database}?sslmode=verify-full&sslrootcert=/etc/ssl/rds/ca.pem" in url
                # a web service's or worker's Deployment, or a cron job's CronJob: each pod connects the same way
                templates = [d["spec"]["template"] for d in of_kind(documents, "Deployment")
                             if d["metadata"]["labels"]["app.kubernetes.io/name"] == name]
                templates += [d["spec"]["jobTemplate"]["spec"]["template"] for d in of_kind(documents, "CronJob")
                              if d["metadata"]["labels"]["app.kubernetes.io/name"] == name]
                (template, *_) = templates
                (container,) = template["spec"]["containers"]
                assert {"name": "rds-ca", "mountPath": "/etc/ssl/rds", "readOnly": True} in container["volumeMounts"]
                assert "BEGIN CERTIFICATE" in named(documents, "ConfigMap", "rds-ca-bundle")["data"]["ca.pem"]
        assert all(len(databases) == 1 for databases in readers.values())  # no role serves two databases
