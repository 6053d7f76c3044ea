"""The local development files: judged by docker compose, the compose-spec schema, hadolint and checkov, and
checked against the plan, the CI build and the Kubernetes output on random platforms."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given

from bizinfra.plan import DOCKERFILE, EnvironmentPlan
from bizinfra.spec.models import Platform
from bizinfra.targets.compose import compile_compose
from bizinfra.targets.compose.s3 import stand_in_name
from bizinfra.validate.rules.buckets import STAND_IN_BUCKETS
from tests.strategies import platforms
from tests.support import bundled_platform, plan_of, require_tool, run
from tests.support.localdev import write_files

SCHEMA = json.loads((resources.files("bizinfra") / "data/reference/json-schemas/compose-spec.json").read_text())


def make_env(folder: Path) -> dict[str, str]:
    """Run the generated make-env.sh, as a developer does on day one; the .env it wrote."""
    result = run([str(folder / "make-env.sh")], env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return read_env(folder / ".env")


def compose_config(folder: Path) -> dict[str, Any]:
    """What docker compose itself makes of the file, every profile on, values from the .env make-env.sh wrote.

    A clean environment, so that no variable of the test process fills a `${...}` instead of .env.
    """
    compose = require_tool("docker-compose")
    make_env(folder)
    result = run([compose, "-f", "docker-compose.yml", "--profile", "*", "config", "--format", "json"],
                 cwd=folder, env={})
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def read_env(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def development(platform: Platform) -> EnvironmentPlan:
    (env,) = plan_of(platform).on("compose")
    return env


# -- the bundled spec ------------------------------------------------------------------------


def test_bundled_compose_passes_docker_compose_and_the_compose_spec_schema(tmp_path: Path) -> None:
    folder = write_files(bundled_platform(), tmp_path) / "compose"
    make_env(folder)
    quiet = run([require_tool("docker-compose"), "-f", "docker-compose.yml", "config", "-q"], cwd=folder, env={})
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    document = yaml.safe_load((folder / "docker-compose.yml").read_text())
    errors = [error.message for error in jsonschema.Draft7Validator(SCHEMA).iter_errors(document)]
    assert errors == []


def test_compose_without_env_file_refuses_to_run_and_says_where_the_value_goes(tmp_path: Path) -> None:
    folder = write_files(bundled_platform(), tmp_path) / "compose"
    result = run([require_tool("docker-compose"), "-f", "docker-compose.yml", "config", "-q"], cwd=folder, env={})
    assert result.returncode != 0
    assert "in .env: run ./make-env.sh" in result.stderr


def test_bundled_compose_is_the_seed_development_setup(tmp_path: Path) -> None:
    folder = write_files(bundled_platform(), tmp_path) / "compose"
    config = compose_config(folder)
    services = config["services"]
    assert sorted(services) == ["api-gateway", "auth-service", "business-service", "inventory-service",
                                "invoice-service", "pgadmin", "postgres", "redis", "s3"]
    auth = services["auth-service"]
    assert auth["environment"]["DB_NAME"] == "auth_service"
    assert auth["environment"]["DB_HOST"] == "postgres"
    assert auth["environment"]["REDIS_HOST"] == "redis"
    assert auth["environment"]["JWT_SECRET"] == read_env(folder / ".env")["JWT_SECRET"]
    assert {name: d["condition"] for name, d in auth["depends_on"].items()} == {"postgres": "service_healthy",
                                                                                 "redis": "service_healthy"}
    assert services["pgadmin"]["profiles"] == ["tools"]
    assert services["postgres"]["image"] == "postgres:15-alpine"
    assert services["redis"]["image"] == "redis:7-alpine"
    assert set(config["volumes"]) == {"postgres-data", "redis-data", "pgadmin-data"}
    # the invoice service's documents go to the S3 stand-in, which creates its bucket under the name it is given
    invoice, s3 = services["invoice-service"], services["s3"]
    assert s3["image"] == "adobe/s3mock:5.2.0"
    assert s3["environment"]["COM_ADOBE_TESTING_S3MOCK_STORE_INITIAL_BUCKETS"] == \
        invoice["environment"]["DOCUMENTS_BUCKET"] == "business-app-com-development-documents"
    assert invoice["environment"]["AWS_ENDPOINT_URL_S3"] == "http://s3:9090"
    assert invoice["environment"]["AWS_ACCESS_KEY_ID"] == read_env(folder / ".env")["S3_ACCESS_KEY_ID"]
    assert invoice["depends_on"]["s3"]["condition"] == "service_started"
    assert "AWS_ENDPOINT_URL_S3" not in auth["environment"]
    assert len(config["networks"]) == 1
    assert all(list(service["networks"]) == ["net-business-app"] for service in services.values())


def test_compose_builds_the_images_ci_builds_from_the_same_context_dockerfile_and_build_args(tmp_path: Path) -> None:
    root = write_files(bundled_platform(), tmp_path, ("compose", "github"))
    compose = yaml.safe_load((root / "compose" / "docker-compose.yml").read_text())["services"]
    build = build_job(root)
    built_by_ci = {entry["service"]: (entry["image"], ci_build_args(entry)) for entry in build["strategy"]["matrix"]["include"]}
    assert {name: (compose[name]["image"].removesuffix(":dev"), compose[name]["build"]["args"])
            for name in built_by_ci} == built_by_ci
    assert {compose[name]["build"]["context"] for name in built_by_ci} == {"${APP_SOURCE_DIR:-../../..}"}
    # the app's image: the Dockerfile's last stage, as compose builds it (the migration image is the `migrate` stage)
    (build_step,) = [step for step in build["steps"] if step.get("with", {}).get("file")
                     and "target" not in step["with"]]
    assert build_step["with"]["context"] == "."  # CI's checkout is the repository root
    assert {compose[name]["build"]["dockerfile"] for name in built_by_ci} == {build_step["with"]["file"]} \
        == {"generated/business-app/docker/Dockerfile"}
    assert build_step["with"]["build-args"] == "${{ matrix.build-args }}"


def test_make_env_fills_every_secret_once_and_keeps_what_is_there(tmp_path: Path) -> None:
    folder = write_files(bundled_platform(), tmp_path, ("compose",)) / "compose"
    first = make_env(folder)
    assert first["POSTGRES_USERNAME"] == "postgres_owner" and first["APP_SOURCE_DIR"] == "../../.."
    secrets = [first[name] for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "JWT_SECRET", "PGADMIN_PASSWORD")]
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in secrets) and len(set(secrets)) == 4
    assert (folder / ".env").stat().st_mode & 0o777 == 0o600
    (folder / ".env").write_text("JWT_SECRET=mine\n")
    assert make_env(folder)["JWT_SECRET"] == "mine"
    assert make_env(folder).keys() == first.keys()


def test_init_script_creates_one_database_per_postgres_service_and_passes_shellcheck(tmp_path: Path) -> None:
    folder = write_files(bundled_platform(), tmp_path) / "compose"
    script = folder / "initdb" / "postgres" / "create-databases.sh"
    created = re.findall(r'^create_database "(\S+)"$', script.read_text(), flags=re.MULTILINE)
    assert created == ["auth_service", "business_service", "inventory_service", "invoice_service"]
    result = run([require_tool("shellcheck"), str(script)])
    assert result.returncode == 0, result.stdout


def test_init_script_creates_each_missing_database_once(tmp_path: Path) -> None:
    """Run it with psql/createdb stand-ins: existing databases are left alone."""
    folder = write_files(bundled_platform(), tmp_path) / "compose"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "log"
    (bin_dir / "psql").write_text('#!/bin/sh\ncase "$*" in *"\'auth_service\'"*) echo 1 ;; esac\n')
    (bin_dir / "createdb").write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    for stub in bin_dir.iterdir():
        stub.chmod(0o755)
    result = run([str(folder / "initdb/postgres/create-databases.sh")],
                 env={"PATH": f"{bin_dir}:/usr/bin:/bin", "POSTGRES_USER": "owner"})
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [f"--username owner --owner owner {name}" for name in
                                            ("business_service", "inventory_service", "invoice_service")]


def test_the_one_dockerfile_passes_hadolint_and_keeps_the_hardening(tmp_path: Path) -> None:
    folder = write_files(bundled_platform(), tmp_path) / "docker"
    assert sorted(p.name for p in folder.iterdir()) == ["Dockerfile", "Dockerfile.dockerignore"]
    result = run([require_tool("hadolint"), str(folder / "Dockerfile")])
    assert result.returncode == 0, result.stdout
    text = (folder / "Dockerfile").read_text()
    # builder, migrate, pruned, production
    assert re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE) == ["node:${NODE_VERSION}-alpine", "builder", "builder",
                                                                     "node:${NODE_VERSION}-alpine"]
    assert "ARG NODE_VERSION=24.21.0\n" in text and "latest" not in text
    assert "EXPOSE" not in text and "tini=~0.19" in text  # a worker may listen to nothing
    assert 'ENTRYPOINT ["/sbin/tini", "--"]\n' in text
    assert re.search(r"^USER [1-9]\d*:", text, flags=re.MULTILINE)  # numeric, not root
    # No COPY of a folder a workspace may lack (libs/, a tsconfig): the whole context, filtered by the ignore file.
    copies = re.findall(r"^COPY (?!--from)(.*)$", text, flags=re.MULTILINE)
    assert copies == [". ."]
    ignored = (folder / "Dockerfile.dockerignore").read_text().splitlines()
    assert {"**/node_modules", ".git", ".env", "dist"} <= set(ignored)


def test_checkov_passes_the_dockerfile(tmp_path: Path) -> None:
    folder = write_files(bundled_platform(), tmp_path, ("compose",)) / "docker"
    result = run([require_tool("checkov"), "-d", str(folder), "--framework", "dockerfile", "--skip-download",
                  "--output", "json", "--quiet"])
    summary = json.loads(result.stdout)["summary"]
    assert (summary["failed"], summary["parsing_errors"], summary["resource_count"]) == (0, 0, 1), result.stdout
    assert summary["passed"] > 0 and result.returncode == 0


def test_each_stage_declares_the_build_args_it_uses() -> None:
    """An ARG is in scope only in the stage that declares it: used undeclared, it is silently empty. The health
    check and the start command run later, in the container, so what they read must be in the stage's ENV instead.
    NODE_VERSION, read only by FROM, is declared before the first stage."""
    names = set(development(bundled_platform()).services[0].build_args)
    text = compiled_dockerfile()
    assert re.findall(r"^ARG (\w+)=", text.partition("\nFROM ")[0], flags=re.MULTILINE) == ["NODE_VERSION"]
    declared_anywhere = {"NODE_VERSION"}
    for stage in stages(text):
        declared = {arguments for keyword, arguments in stage if keyword == "ARG"}
        declared_anywhere |= declared
        environment = {key for keyword, arguments in stage if keyword == "ENV"
                       for key in re.findall(r"(\w+)=", arguments)}
        for keyword, arguments in stage:
            if keyword == "FROM":
                continue
            used = set(re.findall(r"\$\{?(\w+)", arguments)) & names
            assert used <= (environment if keyword in ("HEALTHCHECK", "CMD") else declared), (keyword, arguments)
    assert names == declared_anywhere  # every build argument CI passes is read, and nothing else is expected


@pytest.mark.parametrize(("stage", "missing"), [(0, "INSTALL"), (0, "BUILD"), (0, "OUTPUT"), (2, "PRUNE"),
                                                (3, "START")])
def test_a_build_without_a_build_arg_stops_before_copying_and_names_it(stage: int, missing: str) -> None:
    """Without them a build would install, build or copy nothing: each stage's first command refuses first. PORT and
    HEALTH_PATH may be empty: a worker that listens to nothing has neither."""
    instructions = stages(compiled_dockerfile())[stage]
    keyword, guard = next(item for item in instructions if item[0] not in ("FROM", "ARG"))
    assert keyword == "RUN"
    args = {"PATH": "/usr/bin:/bin", **development(bundled_platform()).services[0].build_args}
    assert run(["sh", "-c", guard], env=args).returncode == 0
    refused = run(["sh", "-c", guard], env={**args, missing: ""})
    assert refused.returncode != 0 and f"missing --build-arg {missing}" in refused.stderr


def test_the_image_health_check_asks_the_service_port_and_path(tmp_path: Path) -> None:
    """The HEALTHCHECK's shell reads PORT and HEALTH_PATH from the environment the ENV instruction gives the image."""
    production = stages(compiled_dockerfile())[-1]
    ((_, options),) = [item for item in production if item[0] == "HEALTHCHECK"]
    command = json.loads(options.partition(" CMD ")[2])
    stub = tmp_path / "wget"
    stub.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/asked\nexit "$WGET_EXIT"\n')
    stub.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "PORT": "3001", "HEALTH_PATH": "/api/health", "WGET_EXIT": "0"}
    assert run(command, env=env).returncode == 0
    assert (tmp_path / "asked").read_text() == "--quiet --spider http://127.0.0.1:3001/api/health\n"
    assert run(command, env={**env, "WGET_EXIT": "8"}).returncode == 1  # Docker reserves 2
    (tmp_path / "asked").unlink()
    assert run(command, env={**env, "PORT": "", "WGET_EXIT": "8"}).returncode == 0  # a worker without a port
    assert not (tmp_path / "asked").exists()


def compiled_dockerfile() -> str:
    (text,) = [a.documents[0] for a in compile_compose(plan_of(bundled_platform())) if a.path == DOCKERFILE]
    assert isinstance(text, str)
    return text


def stages(text: str) -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each its instructions as (keyword, arguments): continuation lines joined,
    comments dropped."""
    lines = re.sub(r"\\\n\s*", "", text).splitlines()
    instructions = [(keyword, arguments) for keyword, _, arguments in
                    (line.partition(" ") for line in lines if line.strip() and not line.startswith("#"))]
    starts = [index for index, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    return [instructions[start:end] for start, end in zip(starts, [*starts[1:], len(instructions)], strict=True)]


def build_job(root: Path) -> dict[str, Any]:
    workflow = yaml.safe_load((root / "github" / "workflows" / "ci-cd.yml").read_text())
    (build,) = [job for job in workflow["jobs"].values() if "matrix" in job.get("strategy", {})]
    return dict(build)


def ci_build_args(entry: dict[str, Any]) -> dict[str, str]:
    """A matrix entry's `build-args`, `KEY=value` lines as build-push-action reads them."""
    return dict(line.split("=", 1) for line in entry["build-args"].splitlines())


# -- random platforms ------------------------------------------------------------------------


@given(platform=platforms())
def test_compose_agrees_with_the_plan(platform: Platform, tmp_path_factory: Any) -> None:
    out = tmp_path_factory.mktemp("compose")
    root = write_files(platform, out)
    env = development(platform)
    config = compose_config(root / "compose")
    values = read_env(root / "compose" / ".env")
    for store in env.datastores:
        published = config["services"][store.name]["ports"][0]
        assert (published["target"], published["published"]) == (store.port, str(store.port))
    written = yaml.safe_load((root / "compose" / "docker-compose.yml").read_text())["services"]
    for service in env.services:
        if service.cron:  # compose has no scheduler: run on demand, in a profile `config` leaves out
            assert written[service.name]["profiles"] == ["jobs"] and "healthcheck" not in written[service.name]
            continue
        compose_service = config["services"][service.name]
        # a command's `$` reaches the build (`config` prints it escaped again)
        assert compose_service["build"]["args"] == {k: v.replace("$", "$$") for k, v in expected_build_args(service).items()}
        if service.port is None:  # a worker alive by its own command
            assert "ports" not in compose_service
            assert compose_service["healthcheck"]["test"] == ["CMD", "sh", "-c", service.health_command]
        else:
            published = compose_service["ports"][0]
            assert (published["target"], published["published"]) == (service.port, str(service.port))
            path = service.probes.readiness if service.kind == "web" else service.metrics_path
            assert compose_service["healthcheck"]["test"][-1] == f"http://127.0.0.1:{service.port}{path}"
        environment = compose_service["environment"]
        # Plain values arrive as the plan has them: compose interpolated none of them (`config` prints a literal
        # `$` escaped again, as `$$`).
        plain = {**env.config, **env.service_config(service)}
        assert {k: environment[k] for k in plain} == {k: v.replace("$", "$$") for k, v in plain.items()}
        for ref in service.secrets:
            assert environment[ref.variable] in values.values()
            assert re.fullmatch(r"[0-9a-f]{32}", environment[ref.variable]) or ref.property == "username"
        assert environment.get("DB_NAME") == service.database or service.database is None
        waits = {name: d["condition"] for name, d in compose_service.get("depends_on", {}).items()}
        stand_in = {stand_in_name(env): "service_started"} if service.buckets else {}
        assert waits == {**dict.fromkeys(service.uses, "service_healthy"), **stand_in}
        created = config["services"][stand_in_name(env)]["environment"][STAND_IN_BUCKETS].split(",") \
            if service.buckets else []
        assert {environment[env.bucket(name).variable] for name in service.buckets} <= set(created)


def expected_build_args(service: Any) -> dict[str, str]:
    """What the Dockerfile needs: its port and health path (a worker's metrics path), both empty when it listens to
    nothing."""
    built = {k: v for k, v in service.build_args.items() if k not in ("PORT", "HEALTH_PATH")}
    if service.port is None:
        return {**built, "PORT": "", "HEALTH_PATH": ""}
    path = service.health_path if service.kind == "web" else service.metrics_path
    return {**built, "PORT": str(service.port), "HEALTH_PATH": path}


@given(platform=platforms())
def test_compose_ports_and_database_names_equal_the_kubernetes_output(platform: Platform,
                                                                       tmp_path_factory: Any) -> None:
    root = write_files(platform, tmp_path_factory.mktemp("k8s"))
    compose = yaml.safe_load((root / "compose" / "docker-compose.yml").read_text())["services"]
    for folder in sorted((root / "kubernetes").iterdir()):
        config_maps = {m["metadata"]["name"]: m["data"] for m in yaml.safe_load_all((folder / "configmaps.yaml")
                                                                                    .read_text())}
        for service in development(platform).services:
            data = config_maps[service.config_map]
            environment = compose[service.name]["environment"]
            assert data.get("PORT") == environment.get("PORT") == (str(service.port) if service.port else None)
            for key in [k for k in data if k.endswith("_NAME") or k.endswith("_PORT")]:
                assert environment[key] == data[key]


@given(platform=platforms())
def test_no_secret_value_is_written_in_the_compose_file(platform: Platform, tmp_path_factory: Any) -> None:
    root = write_files(platform, tmp_path_factory.mktemp("secrets"))
    text = (root / "compose" / "docker-compose.yml").read_text()
    env = development(platform)
    example = read_env(root / "compose" / ".env.example")
    usernames = {f"{store.name.upper().replace('-', '_')}_USERNAME" for store in env.datastores}
    assert all(value == "" for name, value in example.items() if name != "APP_SOURCE_DIR" and name not in usernames)
    services = yaml.safe_load(text)["services"]
    credentials = [(store.name, name) for store in env.datastores
                   for name in ("POSTGRES_USER", "POSTGRES_PASSWORD", "REDIS_PASSWORD")
                   if name in services[store.name]["environment"]]
    credentials += [(service.name, ref.variable) for service in env.services for ref in service.secrets]
    credentials += [(name, "PGADMIN_DEFAULT_PASSWORD") for name in services if name.startswith("pgadmin")]
    assert len(credentials) >= sum(len(service.secrets) for service in env.services)
    for name, variable in credentials:
        assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", services[name]["environment"][variable])


@given(platform=platforms())
def test_compose_and_ci_build_every_service_with_the_plans_port_and_health_path(platform: Platform,
                                                                              tmp_path_factory: Any) -> None:
    out = tmp_path_factory.mktemp("build-args")
    root = write_files(platform, out, ("compose", "github"))
    compose = yaml.safe_load((root / "compose" / "docker-compose.yml").read_text())["services"]
    build = build_job(root)
    ci = {entry["service"]: ci_build_args(entry) for entry in build["strategy"]["matrix"]["include"]}
    services = development(platform).services
    planned = {s.name: expected_build_args(s) for s in services}
    unescaped = {s.name: {k: v.replace("$$", "$") for k, v in compose[s.name]["build"]["args"].items()}
                 for s in services}  # compose's escape of a literal `$`
    assert unescaped == ci == planned
    assert {str(spec.port or "") for spec in platform.services.values()} == {args["PORT"] for args in ci.values()}
    (file,) = {step["with"]["file"] for step in build["steps"] if "file" in step.get("with", {})}
    assert {compose[s.name]["build"]["dockerfile"] for s in services} == {file}
    assert (out / file.removeprefix("generated/")).is_file()  # what both build is the file generate writes


@given(platform=platforms())
def test_every_platform_gets_the_bundled_dockerfile_and_compose_files_pass_the_schema(platform: Platform,
                                                                                       tmp_path_factory: Any) -> None:
    """Nothing of the spec is in the Dockerfile (below its generated-by line), so the bundled one's hadolint and
    checkov runs judge every platform's."""
    root = write_files(platform, tmp_path_factory.mktemp("lint"), ("compose",))
    text = (root / "docker" / "Dockerfile").read_text()
    assert text.partition("\n")[2] == compiled_dockerfile()
    document = yaml.safe_load((root / "compose" / "docker-compose.yml").read_text())
    assert [e.message for e in jsonschema.Draft7Validator(SCHEMA).iter_errors(document)] == []


def spec_with(**changes: Any) -> Platform:
    spec: dict[str, Any] = {
        "name": "shop", "domain": "shop.example.com",
        "services": {"pgadmin": {"port": 5050, "uses": ["db"]}, "web": {"port": 8080, "calls": ["pgadmin"]}},
        "datastores": {"db": {"engine": "postgres", "version": "16", "port": 5051}},
    }
    spec.update(changes)
    return Platform.model_validate(spec)


def test_pgadmin_never_takes_a_name_or_port_the_platform_uses(tmp_path: Path) -> None:
    config = compose_config(write_files(spec_with(), tmp_path) / "compose")
    tool_service = config["services"]["pgadmin-tool"]
    assert tool_service["image"].startswith("dpage/pgadmin4:")
    assert tool_service["ports"][0]["published"] == "5052"
    assert config["services"]["pgadmin"]["build"]["dockerfile"] == "generated/shop/docker/Dockerfile"
    args = config["services"]["pgadmin"]["build"]["args"]
    assert (args["BUILD"], args["PORT"], args["HEALTH_PATH"]) == ("npx nx build pgadmin", "5050", "/health")


def test_each_compose_environment_gets_its_own_folder(tmp_path: Path) -> None:
    platform = spec_with(environments={"dev": {"runs_on": "compose"}, "demo": {"runs_on": "compose"},
                                       "production": {"branch": "main"}})
    root = write_files(platform, tmp_path)
    for env in ("dev", "demo"):
        config = compose_config(root / "compose" / env)
        assert config["services"]["web"]["environment"]["ENVIRONMENT"] == env
        # compose/<env>/ is one level deeper: the repository root is four levels up
        assert (root / "compose" / env / ".env.example").read_text().count("APP_SOURCE_DIR=../../../..\n") == 1
    assert not (root / "compose" / "docker-compose.yml").exists()


def test_without_a_compose_environment_there_is_the_dockerfile_but_no_compose_folder(tmp_path: Path) -> None:
    root = write_files(spec_with(environments={"production": {"branch": "main"}}), tmp_path)
    assert sorted(p.name for p in (root / "docker").iterdir()) == ["Dockerfile", "Dockerfile.dockerignore"]
    assert not (root / "compose").exists()


def test_detect_secrets_finds_nothing_in_the_local_development_and_ops_files(tmp_path: Path) -> None:
    root = write_files(bundled_platform(), tmp_path, ("compose", "ops"))
    result = run([require_tool("detect-secrets"), "scan", "--all-files", "."], cwd=root)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["results"] == {}


def test_a_secret_named_like_a_store_credential_gets_its_own_env_file_variable(tmp_path: Path) -> None:
    platform = spec_with(services={"pgadmin": {"port": 5050, "uses": ["db"]},
                                   "web": {"port": 8080, "secrets": ["DB_PASSWORD", "PGADMIN_PASSWORD"]}})
    folder = write_files(platform, tmp_path) / "compose"
    config = compose_config(folder)["services"]
    values = read_env(folder / ".env")
    assert {"DB_USERNAME", "DB_PASSWORD", "DB_PASSWORD_2", "PGADMIN_PASSWORD", "PGADMIN_PASSWORD_2"} <= set(values)
    assert len(set(values.values())) == len(values)  # one value per secret-store entry
    assert config["web"]["environment"]["DB_PASSWORD"] == values["DB_PASSWORD_2"]
    assert config["pgadmin"]["environment"]["DB_PASSWORD"] == values["DB_PASSWORD"]
    assert config["pgadmin-tool"]["environment"]["PGADMIN_DEFAULT_PASSWORD"] == values["PGADMIN_PASSWORD"]
    assert config["web"]["environment"]["PGADMIN_PASSWORD"] == values["PGADMIN_PASSWORD_2"]
