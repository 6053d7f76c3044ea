"""`bizinfra doctor`: does the application's repository hold what the spec's pipeline will ask of it?

Each check is a small function over the repository folder (read only) and the spec, returning its problems as
`path: what is wrong; what to do`. What the generated Dockerfile needs is read from
targets/compose/dockerfile.py: the whole repository as its context, the spec's install command, and by default
`npx nx build <project>` of apps/<project> writing dist/apps/<project> (a service's `build` changes these).
A check whose input is missing (no package.json, no service folder) stays quiet: the check that owns that
input reports it, so each problem is named once.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any

from bizinfra.naming import BIZINFRA_REQUIREMENTS
from bizinfra.spec.models import REQUIREMENT_EXAMPLES, Platform, requirement_problem

INSTALL_LOCKFILES = {"npm": "package-lock.json", "pnpm": "pnpm-lock.yaml", "yarn": "yarn.lock"}
BINARY_PACKAGES = {"tsc": "typescript"}  # npx <binary> whose package has another name
_NPM_SCRIPT_ALIASES = {"test": "test", "t": "test", "tst": "test", "start": "start", "stop": "stop",
                       "restart": "restart"}
_MANAGER_BUILTINS = {"install", "i", "ci", "add", "remove", "update", "audit", "dlx", "exec", "why", "outdated",
                     "prune", "rebuild", "link", "unlink", "publish", "pack", "config", "init", "dedupe"}


@dataclass(frozen=True)
class Repo:
    """The application's repository, read once per file."""

    root: Path

    def exists(self, path: str) -> bool:
        return (self.root / path).exists()

    def text(self, path: str) -> str | None:
        try:
            return (self.root / path).read_text(errors="replace")
        except OSError:
            return None

    def json(self, path: str) -> dict[str, Any] | None:
        text = self.text(path)
        try:
            data = json.loads(text) if text is not None else None
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    @cached_property
    def package(self) -> dict[str, Any] | None:
        return self.json("package.json")

    def dependencies(self, *kinds: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for kind in kinds or ("dependencies", "devDependencies"):
            value = (self.package or {}).get(kind)
            found.update(value if isinstance(value, dict) else {})
        return found

    def scripts(self) -> dict[str, Any]:
        scripts = (self.package or {}).get("scripts")
        return scripts if isinstance(scripts, dict) else {}


@dataclass(frozen=True)
class Check:
    what: str
    run: Callable[[Repo], list[str]]


def diagnose(root: Path, platform: Platform) -> tuple[int, list[str]]:
    """How many checks ran and the problems they found, in order, each once."""
    repo = Repo(root)
    found: list[str] = []
    all_checks = checks(platform)
    for check in all_checks:
        found += [problem for problem in check.run(repo) if problem not in found]
    return len(all_checks), found


def checks(platform: Platform) -> list[Check]:
    delivery = platform.delivery
    commands = {"lint": delivery.lint, "test": delivery.test}
    migrating = _migrating_services(platform)
    if migrating:  # the migration workflow exists only for services with a database
        commands |= {"migrate": delivery.migrate, "rollback": delivery.rollback}
    found = [
        Check("package.json", package_json),
        Check("install lockfile", lambda repo: install_lockfile(repo, delivery.install)),
        Check("nx.json", nx_json),
        Check("nx installed", nx_installed),
        Check("alert receivers", lambda repo: alert_receivers(platform)),
        *[Check(f"delivery.{step}", partial(delivery_command, step=step, command=command))
          for step, command in commands.items()],
    ]
    if delivery.bizinfra is None:  # else the spec names the requirement, and the loader checked it
        found.append(Check(BIZINFRA_REQUIREMENTS, bizinfra_requirements))
    if migrating and "prisma" in delivery.migrate:
        found += [Check("prisma installed", prisma_installed),
                  Check("prisma schema", lambda repo: prisma_schema(repo, migrating))]
    for name, service in sorted(platform.services.items()):
        project = service.build.project or name
        if service.build.command is None:  # the default build, `npx nx build <project>` of apps/<project>
            found += [
                Check(f"{name} folder", partial(service_folder, name=project)),
                Check(f"{name} build target", partial(build_target, name=project)),
                Check(f"{name} project name", partial(project_name, name=project)),
                Check(f"{name} build output", partial(build_output, name=project,
                                                      expected=service.build.output or f"dist/apps/{project}")),
            ]
        if service.port is not None:  # a worker without a port or a cron job listens to nothing
            found.append(Check(f"{name} port", partial(listening_port, name=project, port=service.port)))
    return found


def _migrating_services(platform: Platform) -> list[str]:
    return sorted(name for name, service in platform.services.items()
                  if any(platform.datastores[store].engine == "postgres" for store in service.uses))


def alert_receivers(platform: Platform) -> list[str]:
    """Who hears of alerts is the spec's alone: pages and tickets nobody receives go to Alertmanager's null
    receiver and are dropped."""
    monitoring = platform.monitoring
    if not monitoring.receivers:
        return ["monitoring.receivers: none declared, so every alert goes to Alertmanager's null receiver and reaches "
                "nobody; declare receivers and name them in monitoring.pages and monitoring.tickets"]
    return [f"monitoring.{field}: empty, so {what} reach nobody; name the receivers that should hear of them"
            for field, names, what in (("pages", monitoring.pages, "critical alerts (pages)"),
                                       ("tickets", monitoring.tickets, "warnings (tickets)")) if not names]


# -- the root ----------------------------------------------------------------------------------------------------


def package_json(repo: Repo) -> list[str]:
    if not repo.exists("package.json"):
        return ["package.json: missing; CI and the generated Dockerfile install from it: run bizinfra doctor "
                "at the application repository's root (--repo DIR)"]
    if repo.package is None:
        return ["package.json: not a JSON object; fix it so that npm can read it"]
    return []


def install_lockfile(repo: Repo, install: str) -> list[str]:
    manager = _manager(install)
    lockfile = INSTALL_LOCKFILES.get(manager or "")
    if lockfile is None or repo.exists(lockfile) or not repo.exists("package.json"):
        return []
    return [f"{lockfile}: missing; delivery.install runs `{install}`, which needs it: run `{manager} install` "
            "and commit it"]


def nx_json(repo: Repo) -> list[str]:
    if repo.exists("nx.json"):
        return []
    return ["nx.json: missing; the generated Dockerfile's default build runs `npx nx build <project>`: "
            "run `npx nx init` to make the repository an Nx workspace"]


def nx_installed(repo: Repo) -> list[str]:
    if repo.package is None or "nx" in repo.dependencies():
        return []
    return ["package.json: nx is not in devDependencies; the generated Dockerfile runs `npx nx build <service>`: "
            "add it (npm install --save-dev nx)"]


# -- delivery commands -------------------------------------------------------------------------------------------


def delivery_command(repo: Repo, step: str, command: str) -> list[str]:
    """The scripts and packages a delivery command calls are in package.json."""
    if repo.package is None:
        return []
    problems: list[str] = []
    for kind, name in requirements(command):
        if kind == "script" and name not in repo.scripts():
            problems.append(f'package.json: no "{name}" script, which delivery.{step} runs (`{command}`); '
                            f"add it, or change delivery.{step} in the spec")
        elif kind == "package" and name not in ("nx", "prisma") and name not in repo.dependencies():
            # nx and prisma have checks of their own, which say more
            problems.append(f"package.json: {name} is not a dependency, and delivery.{step} runs it "
                            f"(`{command}`); add it to devDependencies so npx does not download it every run")
    return problems


def requirements(command: str) -> list[tuple[str, str]]:
    """What a shell command needs from package.json: ("script", name) or ("package", name), in order."""
    needs: list[tuple[str, str]] = []
    for part in re.split(r"&&|\|\||;|\|", command):
        try:
            words = shlex.split(part)
        except ValueError:
            continue
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            words = words[1:]  # FOO=bar npm test
        need = _requirement(words)
        if need and need not in needs:
            needs.append(need)
    return needs


def _requirement(words: list[str]) -> tuple[str, str] | None:
    if len(words) < 2 and words[:1] != ["npx"]:
        return None
    tool, rest = words[0], [word for word in words[1:] if not word.startswith("-")]
    if not rest:
        return None
    if tool == "npx":
        package = rest[0].rsplit("@", 1)[0] if rest[0].rfind("@") > 0 else rest[0]
        return "package", BINARY_PACKAGES.get(package, package)
    if tool == "npm":
        if rest[0] in ("run", "run-script") and len(rest) > 1:
            return "script", rest[1]
        return ("script", _NPM_SCRIPT_ALIASES[rest[0]]) if rest[0] in _NPM_SCRIPT_ALIASES else None
    if tool in ("pnpm", "yarn"):
        if rest[0] == "run" and len(rest) > 1:
            return "script", rest[1]
        if rest[0] in _MANAGER_BUILTINS:
            return None
        return "script", _NPM_SCRIPT_ALIASES.get(rest[0], rest[0])
    return None


def _manager(install: str) -> str | None:
    words = install.split()
    return words[0] if words and words[0] in INSTALL_LOCKFILES else None


# -- migrations --------------------------------------------------------------------------------------------------


def prisma_installed(repo: Repo) -> list[str]:
    """The migration image (the Dockerfile's `migrate` stage) keeps every dependency: a dev dependency will do."""
    if repo.package is None or "prisma" in repo.dependencies():
        return []
    return ["package.json: prisma is not a dependency; the migration Jobs run `npx prisma migrate deploy` in the "
            "migration image, which installs package.json's dependencies only: add it to devDependencies"]


def prisma_schema(repo: Repo, services: list[str]) -> list[str]:
    configured = (repo.package or {}).get("prisma")
    candidates = ["prisma/schema.prisma", *(f"apps/{name}/prisma/schema.prisma" for name in services)]
    if isinstance(configured, dict) and isinstance(configured.get("schema"), str):
        candidates.append(configured["schema"])
    if any(repo.exists(path) for path in candidates):
        return []
    return [f"prisma/schema.prisma: missing; {', '.join(services)} use PostgreSQL and delivery.migrate runs Prisma: "
            "run `npx prisma init`, or change delivery.migrate to your migration tool"]


# -- services ----------------------------------------------------------------------------------------------------


def service_folder(repo: Repo, name: str) -> list[str]:
    if (repo.root / "apps" / name).is_dir():
        return []
    return [f"apps/{name}/: missing; the generated Dockerfile builds service {name} from it: move the app there, "
            "or rename the service in the spec to its folder's name"]


def build_target(repo: Repo, name: str) -> list[str]:
    folder = f"apps/{name}"
    if not repo.exists(folder):
        return []
    targets = (repo.json(f"{folder}/project.json") or {}).get("targets")
    scripts = (repo.json(f"{folder}/package.json") or {}).get("scripts")
    if (isinstance(targets, dict) and "build" in targets) or (isinstance(scripts, dict) and "build" in scripts) \
            or _inferred_build(repo, folder):
        return []
    return [f"{folder}/: no build target; the generated Dockerfile runs `npx nx build {name}`: add targets.build to "
            "its project.json, or a build script to its package.json"]


def _inferred_build(repo: Repo, folder: str) -> bool:
    """Nx plugins (@nx/webpack/plugin, @nx/vite/plugin...) infer a build target from the tool's config file."""
    plugins = json.dumps((repo.json("nx.json") or {}).get("plugins", []))
    return any(tool in plugins and any((repo.root / folder).glob(f"{tool}.config.*"))
               for tool in ("webpack", "vite", "rollup", "rspack"))


def project_name(repo: Repo, name: str) -> list[str]:
    folder = f"apps/{name}"
    project = repo.json(f"{folder}/project.json") or repo.json(f"{folder}/package.json") or {}
    declared = project.get("name")
    if not isinstance(declared, str) or declared == name:
        return []
    file = f"{folder}/project.json" if repo.exists(f"{folder}/project.json") else f"{folder}/package.json"
    return [f'{file}: the Nx project is named "{declared}", and the generated Dockerfile runs '
            f"`npx nx build {name}`: name the project {name}"]


def build_output(repo: Repo, name: str, expected: str) -> list[str]:
    file = f"apps/{name}/project.json"
    build = ((repo.json(file) or {}).get("targets") or {}).get("build")
    output = build.get("options", {}).get("outputPath") if isinstance(build, dict) else None
    if not isinstance(output, str) or f"{expected}/".startswith(f"{output.strip('./')}/"):
        return []  # the folder the image copies is the build's, or inside it (Next.js's .next/standalone)
    return [f"{file}: the build writes {output}, and the generated Dockerfile copies {expected}: "
            f"set targets.build.options.outputPath to {expected}, or the service's build.output to {output}"]


_LITERAL_LISTEN = re.compile(r"\.listen\(\s*(\d{1,5})\s*[,)]")


def listening_port(repo: Repo, name: str, port: int) -> list[str]:
    for file in (f"apps/{name}/src/main.ts", f"apps/{name}/src/main.js"):
        match = _LITERAL_LISTEN.search(repo.text(file) or "")
        if match and int(match.group(1)) != port:
            return [f"{file}: listens on {match.group(1)}, and the spec gives {name} port {port}: "
                    "listen on process.env.PORT (bizinfra sets it), or change the port in the spec"]
    return []


def bizinfra_requirements(repo: Repo) -> list[str]:
    """The file the infrastructure workflow installs bizinfra from names one build of it, with the validate extra."""
    text = repo.text(BIZINFRA_REQUIREMENTS)
    fix = f"write a requirement such as {REQUIREMENT_EXAMPLES[0]!r} there, or set delivery.bizinfra in the spec"
    if text is None:
        return [f"{BIZINFRA_REQUIREMENTS}: missing; the infrastructure workflow installs bizinfra with "
                f"`pip install -r {BIZINFRA_REQUIREMENTS}`: {fix}"]
    lines = [line.split(" #")[0].split(" --")[0].strip() for line in text.splitlines()]
    named = [line for line in lines if re.match(r"bizinfra\b", line, re.IGNORECASE)]
    if not named:
        return [f"{BIZINFRA_REQUIREMENTS}: names no bizinfra requirement; {fix}"]
    problem = requirement_problem(named[0])
    return [f"{BIZINFRA_REQUIREMENTS}: {named[0]}: {problem}"] if problem else []
