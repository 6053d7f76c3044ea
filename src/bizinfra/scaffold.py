"""`bizinfra init`: a starting spec for the Node.js repository it runs in.

`read_repository` is the only I/O: it gathers the few files detection reads. `detect` is pure: those files in,
the spec's text and what it guessed out. Every guess is either read from a file (and said where) or a default
(and marked "check").
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from bizinfra.naming import service_url_variable
from bizinfra.spec.models import Hostname, PlatformName

SCHEMA_MODELINE = "# yaml-language-server: $schema=../schema/bizinfra.schema.json"  # as the bundled specs
LOCKFILES = {  # the lockfile decides how CI installs
    "package-lock.json": "npm ci",
    "pnpm-lock.yaml": "pnpm install --frozen-lockfile",
    "yarn.lock": "yarn install --immutable",  # yarn 2+; classic yarn (no .yarnrc.yml) below
}
REDIS_CLIENTS = ("ioredis", "redis", "@nestjs/bull", "@nestjs/bullmq", "bullmq", "bull")
POSTGRES_VERSION, REDIS_VERSION = "16", "7"
FIRST_FREE_PORT = 3000
STORE_PORTS = {5432, 6379}  # the data stores' default ports: services must not take them
_SKIPPED_FOLDERS = {"node_modules", "dist", "build", "coverage", "tmp", ".nx", ".git", ".cache", ".angular"}
_READ_NAMES = {"package.json", "project.json", "nx.json", "pnpm-workspace.yaml", ".yarnrc.yml", ".env",
               ".env.example", "schema.prisma", *LOCKFILES}
_MAX_FILE = 256 * 1024  # bytes: a source file larger than this is not one detection needs
_MAX_FILES = 5000


class InitError(Exception):
    """Bad input to init: said to the user, nothing written."""


@dataclass(frozen=True)
class App:
    folder: str  # relative to the repository root; "" for a single app at the root
    service: str
    package: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Guess:
    """The spec's text, what detection read (`found`) and what a person should check (`check`)."""

    name: str
    text: str = ""
    found: list[str] = field(default_factory=list)
    check: list[str] = field(default_factory=list)


# -- I/O ---------------------------------------------------------------------------------------------------------


def read_repository(root: Path) -> dict[str, str]:
    """The files detection reads, by POSIX path relative to `root`: manifests, env files, Prisma schemas,
    lockfiles (their names only matter) and the TypeScript/JavaScript sources of `src/` folders."""
    if not root.is_dir():
        raise InitError(f"{root}: no such folder")
    files: dict[str, str] = {}
    git_config = root / ".git" / "config"
    if git_config.is_file():
        files[".git/config"] = git_config.read_text(errors="replace")
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d not in _SKIPPED_FOLDERS)
        here = Path(folder)
        for name in sorted(names):
            path = here / name
            relative = path.relative_to(root).as_posix()
            if not _wanted(relative, name) or not path.is_file() or path.is_symlink():
                continue
            files[relative] = "" if name in LOCKFILES or path.stat().st_size > _MAX_FILE else \
                path.read_text(errors="replace")
            if len(files) > _MAX_FILES:
                raise InitError(f"{root}: more than {_MAX_FILES} source files; run init at the repository's root")
    return files


def _wanted(relative: str, name: str) -> bool:
    return name in _READ_NAMES or ("/src/" in f"/{relative}" and name.endswith((".ts", ".js", ".mjs")))


# -- detection ---------------------------------------------------------------------------------------------------


def check_options(name: str | None, domain: str | None) -> None:
    """--name and --domain as the spec will take them, said in the options' terms."""
    if name is not None and not _valid(PlatformName, name):
        raise InitError(f"--name {name!r}: must be lower-case letters, digits and '-', start with a letter and "
                        "be at most 20 characters (such as shop)")
    if domain is not None and not _valid(Hostname, domain):
        raise InitError(f"--domain {domain!r}: must be a lower-case DNS name such as shop.example.com")


def _valid(kind: Any, value: str) -> bool:
    try:
        TypeAdapter(kind).validate_python(value)
    except ValidationError:
        return False
    return True


def detect(files: Mapping[str, str], folder_name: str, name: str | None = None, domain: str | None = None) -> Guess:
    """The starting spec for a repository, from its files (`read_repository`)."""
    check_options(name, domain)
    root = _json(files, "package.json")
    if root is None and "package.json" in files:
        raise InitError("package.json is not a JSON object; fix it so that npm can read it")
    if root is None:
        raise InitError("no package.json at the repository's root: bizinfra init reads a Node.js repository")
    guess = Guess(name or _platform_name(str(root.get("name") or ""), folder_name))
    if name is None:
        guess.check.append(f"name: {guess.name} (from package.json or the folder's name; --name to choose)")
    guess.check.append("monitoring.receivers: none, so alerts reach nobody (bizinfra doctor says so until then); "
                       "declare who hears pages and tickets (docs/monitoring.md, Alert routing)")
    domain = domain or f"{guess.name}.example.com"
    if domain == f"{guess.name}.example.com":
        guess.check.append(f"domain: {domain} is a placeholder; --domain or edit it to your real domain")
    apps, layout = _apps(files, root)
    guess.found.append(f"{layout}: {len(apps)} app{'s' if len(apps) != 1 else ''} "
                       f"({', '.join(app.folder or '.' for app in apps)})")
    if layout == "a single app":
        guess.check.append("the generated Dockerfile builds an Nx monorepo (apps/<service>, nx.json, libs/): "
                           "move the app to apps/<service> in an Nx workspace, or build its image your own way")
    if not apps:
        raise InitError(f"{layout}: found no apps (folders with src/main.ts, a start script or an application "
                        "project.json); run init at the repository's root")
    if any(app.service == guess.name for app in apps):  # the spec refuses it: their ConfigMaps would collide
        if name is not None:
            raise InitError(f"--name {name}: an app has that name; choose another name for the platform")
        guess.name = dns_label(f"{guess.name}-platform", 20)
    for app in apps:
        if app.folder and PurePosixPath(app.folder).name != app.service:
            guess.check.append(f"{app.folder} is service {app.service} (a spec name); the generated Dockerfile "
                               f"builds apps/{app.service}: rename the folder")
    ports = _ports(files, apps, guess)
    stores, uses = _datastores(files, root, apps, guess)
    calls = {app.service: [other.service for other in apps if other is not app and
                           _mentions(files, app, service_url_variable(other.service))] for app in apps}
    for service, callees in calls.items():
        if callees:
            guess.found.append(f"{service} calls {', '.join(callees)} (it reads their *_URL variables)")
    public = _public_service(apps, guess)
    secrets = {app.service: _secrets(files, app) for app in apps}
    delivery = _delivery(files, root, apps, "postgres" in stores, guess)
    guess.text = _spec_text(guess, domain, apps, ports, public, calls, uses, secrets, stores, delivery)
    return guess


def _json(files: Mapping[str, str], path: str) -> dict[str, Any] | None:
    try:
        data = json.loads(files[path]) if path in files else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def dns_label(text: str, limit: int) -> str:
    """The closest name the spec accepts: lower case, letters, digits and '-', starting with a letter."""
    label = re.sub(r"[^a-z0-9]+", "-", text.rsplit("/", 1)[-1].lower()).strip("-")
    label = re.sub(r"^[^a-z]+", "", label)[:limit].rstrip("-")
    return label


def _platform_name(package_name: str, folder_name: str) -> str:
    return dns_label(package_name, 20) or dns_label(folder_name, 20) or "app"


# -- apps --------------------------------------------------------------------------------------------------------


def _apps(files: Mapping[str, str], root: Mapping[str, Any]) -> tuple[list[App], str]:
    """The repository's apps and how it is laid out: an Nx workspace, workspaces, or a single app."""
    patterns = _workspace_patterns(files, root)
    if patterns:
        layout = f"{_package_manager(files)} workspaces" + (" with Nx" if "nx.json" in files else "")
    elif "nx.json" in files:
        layout = "an Nx workspace"
    else:
        return [App("", "app", root)], "a single app"
    candidates = [folder for folder in _project_folders(files) if _matches(folder, patterns)
                  or ("nx.json" in files and _matches(folder, ["apps/*"]))]
    apps: dict[str, App] = {}
    for folder in sorted(set(candidates)):
        if _is_app(files, folder):
            service = dns_label(PurePosixPath(folder).name, 40)
            apps.setdefault(service, App(folder, service, _json(files, f"{folder}/package.json") or {}))
    return list(apps.values()), layout


def _workspace_patterns(files: Mapping[str, str], root: Mapping[str, Any]) -> list[str]:
    workspaces = root.get("workspaces")
    if isinstance(workspaces, dict):  # yarn's {packages: [...]}
        workspaces = workspaces.get("packages")
    if "pnpm-workspace.yaml" in files:
        try:
            pnpm = yaml.safe_load(files["pnpm-workspace.yaml"])
        except yaml.YAMLError:
            pnpm = None
        workspaces = pnpm.get("packages") if isinstance(pnpm, dict) else workspaces
    return [item.strip("./") for item in workspaces if isinstance(item, str)] if isinstance(workspaces, list) else []


def _project_folders(files: Mapping[str, str]) -> list[str]:
    return sorted({path.rsplit("/", 1)[0] for path in files
                   if path.endswith(("/package.json", "/project.json")) and path.count("/") >= 1})


def _matches(folder: str, patterns: list[str]) -> bool:
    """Whether a folder is a workspace member: `apps/*` matches `apps/shop`, `packages/**` any depth below."""
    parts = folder.split("/")
    for pattern in patterns:
        wanted = pattern.rstrip("/").split("/")
        if wanted[-1] == "**":
            wanted = wanted[:-1]
            if len(parts) > len(wanted) and all(PurePosixPath(p).match(w) for p, w in zip(parts, wanted, strict=False)):
                return True
        elif len(parts) == len(wanted) and all(PurePosixPath(p).match(w) for p, w in zip(parts, wanted, strict=True)):
            return True
    return False


def _is_app(files: Mapping[str, str], folder: str) -> bool:
    """An application, not a library or an end-to-end test project."""
    if folder.endswith("-e2e"):
        return False
    project = _json(files, f"{folder}/project.json") or {}
    if project.get("projectType") in ("application", "library"):
        return project.get("projectType") == "application"
    scripts = (_json(files, f"{folder}/package.json") or {}).get("scripts") or {}
    return any(f"{folder}/src/main{ext}" in files for ext in (".ts", ".js")) or "start" in scripts


def _sources(files: Mapping[str, str], app: App) -> list[str]:
    prefix = f"{app.folder}/src/" if app.folder else "src/"
    return [text for path, text in files.items() if path.startswith(prefix) and path.endswith((".ts", ".js", ".mjs"))]


def _mentions(files: Mapping[str, str], app: App, word: str) -> bool:
    pattern = re.compile(rf"\b{re.escape(word)}\b")
    return any(pattern.search(text) for text in _sources(files, app))


# -- ports -------------------------------------------------------------------------------------------------------

_LISTEN_PATTERNS = (
    re.compile(r"\.listen\(\s*(\d{2,5})\s*[,)]"),  # app.listen(3001)
    re.compile(r"process\.env\.PORT\s*(?:\|\||\?\?)\s*['\"]?(\d{2,5})"),  # listen(process.env.PORT || 3001)
)
_ENV_PORT = re.compile(r"^\s*(?:export\s+)?PORT\s*=\s*['\"]?(\d{2,5})['\"]?\s*$", re.MULTILINE)


def read_port(files: Mapping[str, str], folder: str) -> tuple[int, str] | None:
    """The port an app listens on, and the file that says so: its main file, else its .env or .env.example."""
    base = f"{folder}/" if folder else ""
    for path in (f"{base}src/main.ts", f"{base}src/main.js"):
        for pattern in _LISTEN_PATTERNS:
            match = pattern.search(files.get(path, ""))
            if match and 1 <= int(match.group(1)) <= 65535:
                return int(match.group(1)), path
    for path in (f"{base}.env", f"{base}.env.example"):
        match = _ENV_PORT.search(files.get(path, ""))
        if match and 1 <= int(match.group(1)) <= 65535:
            return int(match.group(1)), path
    return None


def _ports(files: Mapping[str, str], apps: list[App], guess: Guess) -> dict[str, int]:
    """Each app's port: as read when it is unique, else the first free one from 3000 (ports must be unique)."""
    ports: dict[str, int] = {}
    taken = set(STORE_PORTS)
    unknown: list[App] = []
    for app in apps:
        found = read_port(files, app.folder)
        if found is None:
            unknown.append(app)
        elif found[0] in taken:
            guess.check.append(f"{app.service}: port {found[0]} ({found[1]}) is already taken; given another below")
            unknown.append(app)
        else:
            ports[app.service] = found[0]
            taken.add(found[0])
            guess.found.append(f"{app.service}: port {found[0]} (from {found[1]})")
    candidate = FIRST_FREE_PORT
    for app in unknown:
        while candidate in taken:
            candidate += 1
        ports[app.service] = candidate
        taken.add(candidate)
        guess.check.append(f"{app.service}: port {candidate} assigned; make the app listen on process.env.PORT")
    return ports


# -- data stores -------------------------------------------------------------------------------------------------

_PRISMA_PROVIDER = re.compile(r"datasource\s+\w+\s*\{[^}]*provider\s*=\s*\"(\w+)\"", re.DOTALL)


def _datastores(files: Mapping[str, str], root: Mapping[str, Any], apps: list[App],
                guess: Guess) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The data stores (name -> engine) and which apps use them."""
    stores: dict[str, str] = {}
    uses: dict[str, list[str]] = {app.service: [] for app in apps}
    postgres_users = _prisma_users(files, apps, guess)
    if postgres_users:
        stores["postgres"] = "postgres"
        for service in postgres_users:
            uses[service].append("postgres")
    redis_users = _redis_users(files, root, apps, guess)
    if redis_users:
        stores["redis"] = "redis"
        for service in redis_users:
            uses[service].append("redis")
    return stores, uses


def _prisma_users(files: Mapping[str, str], apps: list[App], guess: Guess) -> list[str]:
    users: list[str] = []
    shared = None
    for path in sorted(p for p in files if p.endswith("prisma/schema.prisma")):
        match = _PRISMA_PROVIDER.search(files[path])
        if not match or match.group(1) != "postgresql":
            guess.check.append(f"{path}: provider {match.group(1) if match else 'unknown'}; bizinfra runs "
                               "PostgreSQL and Redis only, so it is left out")
            continue
        owner = next((app for app in apps if app.folder and path.startswith(f"{app.folder}/")), None)
        if owner:
            users.append(owner.service)
            guess.found.append(f"{owner.service} uses PostgreSQL (Prisma, {path})")
        else:
            shared = path
    if shared:
        importers = [app.service for app in apps if app.service not in users and
                     (_mentions(files, app, "@prisma/client") or len(apps) == 1)]
        if not importers:
            importers = [app.service for app in apps if app.service not in users]
            guess.check.append(f"{shared}: no app imports @prisma/client in src/, so every app uses postgres; "
                               "remove the ones that do not")
        users += importers
        guess.found.append(f"{', '.join(importers)} use{'s' if len(importers) == 1 else ''} PostgreSQL "
                           f"(Prisma, {shared})")
    return users


def _redis_users(files: Mapping[str, str], root: Mapping[str, Any], apps: list[App], guess: Guess) -> list[str]:
    declared = [client for client in REDIS_CLIENTS if client in _dependencies(root)]
    users = [app.service for app in apps if set(REDIS_CLIENTS) & set(_dependencies(app.package))
             or any(_imports(files, app, client) for client in REDIS_CLIENTS)]
    if not users and declared:
        users = [app.service for app in apps]
        guess.check.append(f"{declared[0]} is a dependency but no app imports it in src/, so every app uses "
                           "redis; remove the ones that do not")
    if users:
        guess.found.append(f"{', '.join(users)} use{'s' if len(users) == 1 else ''} Redis (a Redis client)")
    return users


def _imports(files: Mapping[str, str], app: App, module: str) -> bool:
    pattern = re.compile(rf"""(?:from\s+|require\(\s*|import\(\s*)['"]{re.escape(module)}['"]""")
    return any(pattern.search(text) for text in _sources(files, app))


def _dependencies(package: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key in ("dependencies", "devDependencies"):
        if isinstance(package.get(key), dict):
            found.update(package[key])
    return found


# -- services' other facts ---------------------------------------------------------------------------------------

_SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]*(SECRET|TOKEN|PASSWORD|API_KEY|PRIVATE_KEY)[A-Z0-9_]*$")
_GENERATED = ("PORT", "PLATFORM", "ENVIRONMENT")  # the spec refuses secrets bizinfra sets itself


def _secrets(files: Mapping[str, str], app: App) -> list[str]:
    """Secret-looking names in the app's .env.example: only their names go in the spec."""
    base = f"{app.folder}/" if app.folder else ""
    names = re.findall(r"^\s*(?:export\s+)?([A-Z][A-Z0-9_]*)\s*=", files.get(f"{base}.env.example", ""), re.MULTILINE)
    return sorted({name for name in names if _SECRET_NAME.match(name) and name not in _GENERATED
                   and not name.startswith(("DB_", "REDIS_")) and not name.endswith("_URL")})


def _public_service(apps: list[App], guess: Guess) -> str | None:
    gateways = [app.service for app in apps if "gateway" in app.service or app.service in ("api", "web")]
    public = gateways[0] if len(gateways) == 1 else apps[0].service if len(apps) == 1 else None
    if public:
        guess.check.append(f"{public} is public at api.<domain>; change the host, or remove public")
    else:
        guess.check.append("no service is public: add `public: {host: ...}` to the one the internet reaches")
    return public


# -- delivery ----------------------------------------------------------------------------------------------------


def _package_manager(files: Mapping[str, str]) -> str:
    return "pnpm" if "pnpm-lock.yaml" in files else "yarn" if "yarn.lock" in files else "npm"


def _delivery(files: Mapping[str, str], root: Mapping[str, Any], apps: list[App], migrations: bool,
              guess: Guess) -> dict[str, str]:
    manager = _package_manager(files)
    install = next((command for lockfile, command in LOCKFILES.items() if lockfile in files), None)
    if install is None:
        install = "npm ci"
        guess.check.append("no lockfile: run `npm install` and commit package-lock.json (CI installs with npm ci)")
    elif manager == "yarn" and ".yarnrc.yml" not in files:
        install = "yarn install --frozen-lockfile"  # classic yarn has no --immutable
    scripts: Mapping[str, Any] = root["scripts"] if isinstance(root.get("scripts"), dict) else {}
    uses_nx = "nx.json" in files and "nx" in _dependencies(root)
    delivery = {"install": install}
    for step in ("lint", "test"):
        delivery[step] = _script_command(manager, step, scripts, uses_nx)
        if delivery[step].startswith("npx nx"):
            guess.found.append(f"{step}: {delivery[step]} (no {step} script; Nx runs each project's target)")
        elif step not in scripts:
            guess.check.append(f"{step}: package.json has no {step} script; CI runs `{delivery[step]}`: add one")
    if migrations:
        delivery["migrate"] = "npx prisma migrate deploy"
        if "migrate:rollback" not in scripts:
            guess.check.append("no migrate:rollback script: the migration workflow's rollback runs "
                               "`npm run migrate:rollback` in the migration image; add one, or set delivery.rollback")
        guess.check.append("Prisma reads DATABASE_URL, which bizinfra gives each service of one PostgreSQL store "
                           "(its own role; in the cloud sslmode=verify-full against the mounted RDS CAs): keep "
                           "url = env(\"DATABASE_URL\") in schema.prisma")
    repository = _github_repository(files.get(".git/config", ""))
    if repository:
        delivery["repository"] = repository
        guess.found.append(f"GitHub repository {repository} (from .git/config)")
    else:
        guess.check.append("delivery.repository is unset: set it to owner/name so only its workflows may deploy")
    return delivery


def _script_command(manager: str, step: str, scripts: Mapping[str, Any], uses_nx: bool) -> str:
    if step in scripts:
        if step == "test" and manager == "npm":
            return "npm test -- --coverage" if "jest" in str(scripts["test"]) else "npm test"
        return f"{manager} run {step}" if manager != "yarn" else f"yarn {step}"
    if uses_nx:  # the delivery defaults
        return "npx nx run-many -t lint" if step == "lint" else "npx nx run-many -t test --coverage"
    return f"npm run {step}" if step == "lint" else "npm test"


_GITHUB_REMOTE = re.compile(r"url\s*=\s*(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)"
                            r"([A-Za-z0-9-]+/[A-Za-z0-9._-]+?)(?:\.git)?/?\s*$", re.MULTILINE)


def _github_repository(git_config: str) -> str | None:
    match = _GITHUB_REMOTE.search(git_config)
    return match.group(1) if match else None


# -- the spec's text ---------------------------------------------------------------------------------------------


def _spec_text(guess: Guess, domain: str, apps: list[App], ports: Mapping[str, int], public: str | None,
               calls: Mapping[str, list[str]], uses: Mapping[str, list[str]], secrets: Mapping[str, list[str]],
               stores: Mapping[str, str], delivery: Mapping[str, str]) -> str:
    lines = [SCHEMA_MODELINE,
             "# Written by `bizinfra init`: what it could read from the repository, and defaults marked `check`.",
             "# Then: `bizinfra doctor --spec <this file>` in the repository, and `bizinfra generate --spec <it>`.",
             f"name: {guess.name}",
             f"domain: {domain}  # check: your real domain",
             "region: us-east-1  # check: the AWS region to run in",
             "", "services:"]
    for app in apps:
        service = app.service
        lines.append(f"  {service}:")
        lines.append(f"    port: {ports[service]}")
        if service == public:
            lines.append(f"    public: {{host: api.{domain}}}  # check")
        for key, names in (("calls", calls[service]), ("uses", uses[service]), ("secrets", secrets[service])):
            if names:
                lines.append(f"    {key}: [{', '.join(names)}]")
    if stores:
        lines += ["", "datastores:"]
        versions = {"postgres": POSTGRES_VERSION, "redis": REDIS_VERSION}
        lines += [f'  {store}: {{engine: {engine}, version: "{versions[engine]}"}}  # check: the version you run'
                  for store, engine in stores.items()]
    lines += ["", "# development runs on compose; staging deploys from develop, production from main (the defaults).",
              "", "delivery:"]
    lines += [f"  {key}: {json.dumps(value)}" for key, value in delivery.items()]
    return "\n".join(lines) + "\n"


# -- where CI gets bizinfra ------------------------------------------------------------------------------------


def bizinfra_requirement(direct_url: Mapping[str, Any] | None, version: str) -> str | None:
    """The pip requirement that installs, in CI, the bizinfra running now, read from its installation's PEP 610
    record (direct_url.json): none means an index, so the version; a git URL, its commit; an https archive, its URL.
    None when it came from where CI cannot reach: a local folder (an editable checkout), git over ssh."""
    if direct_url is None:
        return f"bizinfra[validate]=={version}"
    url = str(direct_url.get("url", ""))
    vcs = direct_url.get("vcs_info")
    if isinstance(vcs, Mapping) and vcs.get("vcs") == "git" and url.startswith("https://"):
        return f"bizinfra[validate] @ git+{url}@{vcs.get('commit_id')}"
    if "archive_info" in direct_url and url.startswith("https://"):
        return f"bizinfra[validate] @ {url}"
    return None


def requirements_text(requirement: str | None) -> str:
    """`requirements-bizinfra.txt`: what the infrastructure workflow installs with `pip install -r`."""
    lines = ["# The bizinfra CI installs (`pip install -r`, in the infrastructure workflow): the build that generated",
             "# generated/, with the validate extra. Bump it with the spec, then `bizinfra generate`."]
    if requirement:
        return "\n".join([*lines, requirement]) + "\n"
    return "\n".join([*lines, "# check: bizinfra was installed from where CI cannot reach (a local folder); name where",
                       "# it is published, e.g. bizinfra[validate] @ git+https://github.com/<org>/bizinfra@<commit>"]) + "\n"


def report(guess: Guess, written_to: str) -> str:
    """What init says: what it wrote, what it read, what to check, what to run next."""
    lines = [f"wrote {written_to}", "found:", *(f"  {line}" for line in guess.found)]
    lines += ["check:", *(f"  {line}" for line in guess.check)] if guess.check else []
    lines.append(f"next: bizinfra doctor --spec {written_to}, then bizinfra generate --spec {written_to}")
    return "\n".join(lines)
