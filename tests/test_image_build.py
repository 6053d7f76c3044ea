"""Per-service build settings: what each service's image is built from (its Node release, install, build, output,
prune and start), how the image starts its server under tini, and the defaults that fit a stock Nx workspace."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bizinfra.plan import PlatformPlan
from bizinfra.spec.models import Platform
from bizinfra.spec.node import known_releases
from bizinfra.targets.compose import compile_compose
from bizinfra.targets.compose.dockerfile import dockerfile
from bizinfra.targets.kubernetes import compile_kubernetes
from tests.strategies import build_settings, platforms
from tests.support import bundled_platform, plan_of

NESTJS_DEFAULTS = {"BUILD": "npx nx build {project}", "OUTPUT": "dist/apps/{project}",
                   "START": "node dist/main.js"}


@given(platforms())
def test_each_build_setting_is_the_services_else_the_deliverys_else_the_nx_layouts(platform: Platform) -> None:
    plan = plan_of(platform)
    for service in plan.environments[0].services:
        spec, delivery = platform.services[service.name].build, platform.delivery
        project = spec.project or service.name
        args = service.build_args
        assert args["INSTALL"] == (spec.install or delivery.install)
        assert args["BUILD"] == (spec.command or NESTJS_DEFAULTS["BUILD"].format(project=project))
        assert args["OUTPUT"] == (spec.output or NESTJS_DEFAULTS["OUTPUT"].format(project=project))
        assert args["START"] == (spec.start or NESTJS_DEFAULTS["START"])
        version = spec.node_version or delivery.node_version
        assert re.fullmatch(r"\d+\.\d+\.\d+", args["NODE_VERSION"])  # always a release: the image tag is pinned
        assert args["NODE_VERSION"] == (version if version.count(".") == 2 else known_releases()[version])
        if spec.prune:
            assert args["PRUNE"] == spec.prune


def test_prune_follows_the_package_manager_the_install_runs() -> None:
    assert prune_of("npm ci") == "npm prune --omit=dev"
    assert prune_of("corepack enable && pnpm install --frozen-lockfile") == "pnpm prune --prod"
    assert prune_of("yarn install --immutable") == "yarn workspaces focus --all --production"


@given(st.data())
def test_a_front_end_beside_the_nestjs_services_builds_from_the_same_dockerfile(data: st.DataObject) -> None:
    """Build settings change only build arguments: the one Dockerfile stays the same bytes for every spec."""
    settings = data.draw(build_settings())
    spec: dict[str, Any] = {"name": "shop", "domain": "shop.example.com",
                            "services": {"api": {"port": 3000}, "web": {"port": 4200, "build": settings}}}
    plan = plan_of(Platform.model_validate(spec))
    api, web = plan.environments[0].services
    assert api.build_args["NODE_VERSION"] == known_releases()["24"] and api.build_args["INSTALL"] == "npm ci"
    assert {key for key, value in web.build_args.items() if value != api.build_args[key]} >= {"PORT"}
    assert dockerfile() == dockerfile()  # no input: nothing of a spec can reach it


def test_the_image_starts_the_server_in_place_of_its_shell(tmp_path: Any) -> None:
    """tini (PID 1) forwards SIGTERM to its child: the start command's shell must exec the server, not wait on it,
    or the server would never see the signal. The server here prints its own pid: the child's pid itself."""
    command = json.loads(re.findall(r"^CMD (.+)$", dockerfile(), flags=re.MULTILINE)[-1])
    start = """sh -c 'echo "$$ $0 $1"' "one word" 'and two'"""  # quotes as a shell reads them
    process = subprocess.Popen(command, env={"PATH": "/usr/bin:/bin", "START": start}, stdout=subprocess.PIPE,
                               text=True)
    output, _ = process.communicate(timeout=10)
    assert output == f"{process.pid} one word and two\n"
    assert re.search(r'^ENTRYPOINT \["/sbin/tini", "--"\]$', dockerfile(), flags=re.MULTILINE)


def test_the_bundled_services_build_as_the_stock_nx_workspace_does() -> None:
    plan: PlatformPlan = plan_of(bundled_platform())
    gateway = plan.environments[0].services[0]
    assert gateway.build_args == {
        "NODE_VERSION": known_releases()["24"], "INSTALL": "npm ci", "BUILD": "npx nx build api-gateway",
        "OUTPUT": "dist/apps/api-gateway", "PRUNE": "npm prune --omit=dev", "START": "node dist/main.js",
        "PORT": "3000", "HEALTH_PATH": "/health"}


@given(platforms())
def test_a_services_command_replaces_the_images_start_and_keeps_tini_everywhere(platform: Platform) -> None:
    """Kubernetes `args` (not `command`, which would replace tini) and compose's `command`, exactly the spec's: for
    services and workers (Deployments) and cron jobs (CronJobs)."""
    plan = plan_of(platform)
    wanted = {name: list(spec.command) if spec.command else None for name, spec in platform.services.items()}
    checked: set[str] = set()
    for artifact in compile_kubernetes(plan):
        for document in artifact.documents:
            if isinstance(document, dict) and document.get("kind") in ("Deployment", "CronJob") \
                    and document["metadata"]["labels"].get("app.kubernetes.io/name") in wanted:
                spec = document["spec"]["jobTemplate"]["spec"] if document["kind"] == "CronJob" else document["spec"]
                (container,) = spec["template"]["spec"]["containers"]
                assert "command" not in container
                assert container.get("args") == wanted[container["name"]]
                checked.add(container["name"])
    assert checked == set(wanted)
    for artifact in compile_compose(plan):
        if artifact.path.endswith("docker-compose.yml"):
            services = artifact.documents[0]["services"]
            for name, command in wanted.items():
                escaped = [word.replace("$", "$$") for word in command] if command else None
                assert services[name].get("command") == escaped


def prune_of(install: str) -> str:
    spec = {"name": "shop", "domain": "shop.example.com", "services": {"web": {"build": {"install": install}}}}
    return plan_of(Platform.model_validate(spec)).environments[0].services[0].build_args["PRUNE"]


def test_the_builder_stage_runs_its_commands_in_a_workspace_without_libs(tmp_path: Any) -> None:
    """The builder's RUN lines, run as BuildKit runs them (sh -c, from /app, the build arguments in the
    environment) in a copy of a workspace with no libs/ and no root tsconfig, against stand-in npm and npx."""
    workspace = tmp_path / "app"
    (workspace / "apps" / "api" / "src").mkdir(parents=True)
    (workspace / "package.json").write_text('{"name": "acme"}')
    (workspace / "apps" / "api" / "src" / "main.ts").write_text("listen(process.env.PORT)\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "log"
    for tool, action in (("npm", ""), ("npx", 'if [ "$1 $2" = "nx build" ]; then mkdir -p "dist/apps/$3"; fi\n')):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> {log}\n{action}')
        (bin_dir / tool).chmod(0o755)
    args = dict(plan_of(Platform.model_validate(
        {"name": "shop", "domain": "shop.example.com", "services": {"api": {"port": 3000}}})
    ).environments[0].services[0].build_args)
    environment = {"PATH": f"{bin_dir}:/usr/bin:/bin", **args}
    for command in builder_commands():
        result = subprocess.run(["sh", "-c", command], cwd=workspace, env=environment, capture_output=True, text=True)
        assert result.returncode == 0, (command, result.stderr)
    assert log.read_text().splitlines() == ["npm ci", "npx nx build api", "npm prune --omit=dev"]
    # a build that writes elsewhere than OUTPUT fails there, not at the COPY of the next stage
    (build,) = [command for command in builder_commands() if command.startswith('eval "$BUILD"')]
    result = subprocess.run(["sh", "-c", build], cwd=workspace, env={**environment, "OUTPUT": "dist/apps/web"})
    assert result.returncode != 0


def builder_commands() -> list[str]:
    """The builder stage's RUN commands, BuildKit's --mount options left out, continuation lines joined."""
    text = re.sub(r"\\\n\s*", "", dockerfile()).partition(" AS production")[0]
    runs = re.findall(r"^RUN (.+)$", text, flags=re.MULTILINE)
    return [re.sub(r"^(--mount=\S+ )+", "", run) for run in runs]
