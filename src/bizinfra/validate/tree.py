"""`bizinfra validate`: every offline judge over a generated tree as it is on disk (patched output included).

Each check reads the files, never the spec. A check whose tool is not installed is "not run", never "passed".
Problems are lines `file: object: problem`, with files relative to the output folder.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml

from bizinfra.validate import alertmanager, helm, kubernetes, prometheus, terraform
from bizinfra.validate import rules as invariants

Status = Literal["passed", "failed", "not run"]
TIMEOUT = 600


@dataclass
class Check:
    name: str
    status: Status
    problems: list[str] = field(default_factory=list)
    note: str = ""  # what was judged, or why it did not run


@dataclass(frozen=True)
class Tree:
    """A generated tree on disk: its folder and its files by relative path."""

    root: Path
    files: dict[str, bytes]

    def paths(self, pattern: str) -> list[str]:
        shape = re.compile(pattern)
        return sorted(path for path in self.files if shape.fullmatch(path))

    def folders(self, pattern: str) -> list[str]:
        shape = re.compile(pattern)
        return sorted({path.rpartition("/")[0] for path in self.files if shape.fullmatch(path)})


def read_tree(root: Path) -> Tree:
    """Every file below `root` except bizinfra's own bookkeeping (dot-files at the top)."""
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
             if p.is_file() and not p.relative_to(root).as_posix().startswith(".")}
    return Tree(root, files)


def validate(root: Path) -> list[Check]:
    """Every check, in a stable order."""
    tree = read_tree(root)
    parsing = files_parse(tree)
    checks = [parsing] + [_guarded(judge, tree) for judge in JUDGES]
    checks += [_guarded(functools.partial(_rule_check, name, rule), tree, f"invariant: {name}")
               for name, rule in invariants.RULES.items()]
    return checks


def files_parse(tree: Tree) -> Check:
    """Every YAML and JSON file parses: a hand edit that breaks one is named here, not as a traceback later."""
    problems = []
    for path in tree.paths(r".+\.(ya?ml|json)"):
        try:
            text = tree.files[path].decode("utf-8")
            if path.endswith(".json"):
                json.loads(text)
            else:
                list(yaml.safe_load_all(text))
        except (ValueError, yaml.YAMLError) as error:
            problems.append(f"{path}: (file): does not parse: {' '.join(str(error).split())}")
    return _outcome("YAML and JSON files parse", problems, _counted(len(tree.paths(r".+\.(ya?ml|json)")), "file"))


def _guarded(judge: Callable[[Tree], Check], tree: Tree, name: str = "") -> Check:
    """The judge's verdict; a file it cannot read (broken, or not the shape bizinfra writes) fails it, with the
    reason, instead of stopping `validate` with a traceback."""
    try:
        return judge(tree)
    except (ValueError, yaml.YAMLError, KeyError, TypeError, AttributeError, IndexError) as error:
        name = name or judge.__name__.replace("_", " ")
        return Check(name, "failed", [f"(tree): {name}: could not read the files: {type(error).__name__}: "
                                    f"{' '.join(str(error).split())}"])


def _tool(name: str) -> str | None:
    """The tool on PATH, or beside the running Python (a virtual environment's bin)."""
    return shutil.which(name) or shutil.which(name, path=os.path.dirname(sys.executable))


def _run(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    return result.returncode, result.stdout + result.stderr


def _relative(tree: Tree, text: str) -> str:
    """Tool output with the tree's absolute folder taken out, so lines name files as the summary does."""
    for root in (str(tree.root.resolve()), str(tree.root)):
        text = text.replace(root.rstrip("/") + "/", "")
    return text


def _outcome(name: str, problems: list[str], note: str) -> Check:
    return Check(name, "failed" if problems else "passed", problems, note)


def _missing(name: str, tool: str) -> Check:
    return Check(name, "not run", note=f"{tool} is not installed")


def _tool_for(name: str, tool: str, found: Collection[object], nothing: str) -> str | Check:
    """The tool a check runs, or its outcome already: passed with `nothing` found to check, or not run without it."""
    executable = _tool(tool)
    if not found:
        return _outcome(name, [], nothing)
    if executable is None:
        return _missing(name, tool)
    return executable


def _counted(count: int, what: str) -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


# -- Kubernetes and Terraform ----------------------------------------------------------------------------------------


def kubernetes_schemas(tree: Tree) -> Check:
    name = "kubernetes-validate --strict and the CRD schemas"
    folders = tree.folders(r".+/kubernetes/[^/]+/kustomization\.yaml")
    executable = _tool_for(name, "kubernetes-validate", folders, "no Kubernetes folders")
    if isinstance(executable, Check):
        return executable
    problems = kubernetes.validate_folders(executable, [tree.root / folder for folder in folders])
    return _outcome(name, [_relative(tree, line) for line in problems], _counted(len(folders), "folder"))


# Each environment's stack, its add-ons' stack and its standby stack in a second region.
TERRAFORM_FILES = r".+/terraform/[^/]+/((addons|standby)/)?[^/]+\.tf\.json"


def terraform_schemas(tree: Tree) -> Check:
    folders = tree.folders(TERRAFORM_FILES)
    problems = [f"{folder}/{problem} (aws {version})" for folder in folders for version in terraform.SCHEMA_VERSIONS
                for problem in terraform.check_folder(terraform.read_folder(tree.root / folder),
                                                      terraform.load_schema(version))]
    helm_version = terraform.helm_schema()["provider_version"]
    return _outcome("AWS provider schemas and Terraform references", problems,
                    f"{_counted(len(folders), 'folder')}, aws {' and '.join(terraform.SCHEMA_VERSIONS)}, "
                    f"helm {helm_version} (provider block and helm_release, transcribed)")


def helm_values(tree: Tree) -> Check:
    """Each helm_release's values against its chart's values.schema.json and values.yaml at the pinned version."""
    name = "Helm release values against the charts' values.schema.json and values.yaml"
    found = [release for folder in tree.folders(TERRAFORM_FILES)
             for release in helm.releases(terraform.read_folder(tree.root / folder))]
    problems = [problem for release in found for problem in helm.check_release(release)]
    schemaless = helm.schemaless(found)
    note = _counted(len(found), "release") + (f"; not checkable against a schema (the chart publishes none), keys "
                                               f"checked only: {', '.join(schemaless)}" if schemaless else "")
    return _outcome(name, problems, note)


# -- Prometheus -------------------------------------------------------------------------------------------------------


def promtool(tree: Tree) -> Check:
    name = "promtool check rules, test rules, check config"
    folders = tree.folders(r".+/monitoring/[^/]+/prometheus\.yml")
    executable = _tool_for(name, "promtool", folders, "no Prometheus folders")
    if isinstance(executable, Check):
        return executable
    problems: list[str] = []
    for folder in folders:
        here = tree.root / folder
        rules = sorted(p.name for p in here.glob("rules.yml"))
        tests = sorted(p.name for p in here.glob("*.test.yml"))
        for arguments in (["check", "rules", *rules], ["test", "rules", *tests]):
            if len(arguments) > 2:
                problems += _promtool_problems(executable, arguments, here, f"{folder}/{arguments[2]}")
        with tempfile.TemporaryDirectory() as scratch:
            for rule_file in rules:
                shutil.copy(here / rule_file, scratch)
            stub = prometheus.stubbed_config(here / "prometheus.yml", prometheus.pods_of(_deployments(tree, folder)),
                                             Path(scratch))
            problems += _promtool_problems(executable, ["check", "config", str(stub)], Path(scratch),
                                           f"{folder}/prometheus.yml")
    return _outcome(name, problems, _counted(len(folders), "folder"))


def _deployments(tree: Tree, monitoring_folder: str) -> list[dict[str, Any]]:
    """The Deployments of the Kubernetes folder beside a monitoring folder: the pods discovery would find."""
    platform, _, env = monitoring_folder.replace("/monitoring/", "/").partition("/")
    found = []
    for path in tree.paths(rf"{re.escape(platform)}/kubernetes/{re.escape(env)}/.+\.yaml"):
        found += [d for d in yaml.safe_load_all(tree.files[path]) if isinstance(d, dict) and d.get("kind") == "Deployment"]
    return found


def _promtool_problems(executable: str, arguments: list[str], cwd: Path, shown: str) -> list[str]:
    code, output = _run([executable, *arguments], cwd=cwd)
    if code == 0:
        return []
    lines = [line.strip() for line in output.splitlines()
             if line.strip() and not line.lstrip().startswith(("Checking", "SUCCESS", "Unit Testing"))]
    return [f"{shown}: promtool {' '.join(arguments[:2])}: {line}" for line in lines or [f"exited {code}"]]


def amtool(tree: Tree) -> Check:
    name = "amtool check-config, config routes test"
    configs = tree.paths(r".+/monitoring/[^/]+/alertmanager\.yml")
    executable = _tool_for(name, "amtool", configs, "no Alertmanager configurations")
    if isinstance(executable, Check):
        return executable
    problems: list[str] = []
    replaced: set[str] = set()
    for path in configs:
        routes = tree.root / path.replace("alertmanager.yml", "alertmanager.routes.yml")
        with tempfile.TemporaryDirectory() as scratch:
            found, older = alertmanager.check(executable, tree.root / path, routes if routes.is_file() else None,
                                              _run, path, Path(scratch))
        problems += found
        replaced.update(older)
    note = _counted(len(configs), "file")
    if replaced:
        note += f"; this amtool predates {', '.join(sorted(replaced))}: checked as the plain field"
    return _outcome(name, problems, note)


# -- GitHub Actions -----------------------------------------------------------------------------------------------------

_ACTIONLINT_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<message>.*)$")


def actionlint(tree: Tree) -> Check:
    name = "actionlint (with shellcheck)"
    workflows = tree.paths(r".+/github/workflows/[^/]+\.ya?ml")
    executable = _tool_for(name, "actionlint", workflows, "no workflows")
    if isinstance(executable, Check):
        return executable
    shellcheck = _tool("shellcheck")
    # explicit paths: outside a git repository a bare run exits 3
    _, output = _run([executable, "-oneline", "-shellcheck", shellcheck or "", *workflows], cwd=tree.root)
    problems = [_line(_ACTIONLINT_LINE, line) for line in _relative(tree, output).splitlines() if line.strip()]
    check = _outcome(name, problems, _counted(len(workflows), "workflow"))
    if shellcheck is None and not problems:
        return Check(name, "not run", note="shellcheck is not installed, so the scripts in run: went unjudged")
    return check


def _line(shape: re.Pattern[str], line: str) -> str:
    match = shape.match(line)
    return f"{match['file']}: line {match['line']}: {match['message']}" if match else line


class WorkflowLoader(yaml.SafeLoader):
    """YAML 1.2 booleans only, so a workflow's `on:` key stays the string "on" (PyYAML reads it as True)."""


WorkflowLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
WorkflowLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                     list("tTfF"))


def _schema(name: str) -> Any:
    return json.loads((resources.files("bizinfra") / "data" / "reference" / "json-schemas" / name).read_text())


def _schema_problems(path: str, document: Any, schema: Any) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [f"{path}: {'.'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
            for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))]


def workflow_schema(tree: Tree) -> Check:
    workflows = tree.paths(r".+/github/workflows/[^/]+\.ya?ml")
    schema = _schema("github-workflow.json")
    problems = [problem for path in workflows
                for problem in _schema_problems(path, yaml.load(tree.files[path], Loader=WorkflowLoader), schema)]
    return _outcome("GitHub workflow schema", problems, _counted(len(workflows), "workflow"))


# -- local development ---------------------------------------------------------------------------------------------------

_REQUIRED_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):\?")


def _compose_files(tree: Tree) -> list[str]:
    """Every platform's compose files: `compose/` holds one, or one per environment folder when there are several."""
    return tree.paths(rf"[^/]+/{invariants.COMPOSE_FILE.pattern}")


def compose_schema(tree: Tree) -> Check:
    files = _compose_files(tree)
    schema = _schema("compose-spec.json")
    problems = [problem for path in files
                for problem in _schema_problems(path, yaml.safe_load(tree.files[path]), schema)]
    return _outcome("compose-spec schema", problems, _counted(len(files), "file"))


def docker_compose(tree: Tree) -> Check:
    name = "docker-compose config -q"
    files = _compose_files(tree)
    executable = _tool_for(name, "docker-compose", files, "no compose files")
    if isinstance(executable, Check):
        return executable
    problems = []
    for path in files:
        # The secrets are `${VAR:?...}`: a placeholder for each lets compose judge the file without the developer's .env.
        required = {variable: "placeholder" for variable in _REQUIRED_VARIABLE.findall(tree.files[path].decode())}
        folder, _, file = path.rpartition("/")
        code, output = _run([executable, "-f", file, "--profile", "*", "config", "-q"], cwd=tree.root / folder,
                            env={"PATH": os.environ.get("PATH", ""), **required})
        if code != 0:
            problems += [f"{path}: docker-compose config: {line}" for line in output.splitlines() if line.strip()] \
                or [f"{path}: docker-compose config: exited {code}"]
    return _outcome(name, problems, _counted(len(files), "file"))


_HADOLINT_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+) (?P<message>.*)$")
_SHELLCHECK_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<message>.*)$")


def hadolint(tree: Tree) -> Check:
    return _file_linter(tree, "hadolint", tree.paths(r".+\.Dockerfile|(.+/)?Dockerfile"), [], _HADOLINT_LINE,
                        "Dockerfile")


def shellcheck(tree: Tree) -> Check:
    return _file_linter(tree, "shellcheck", tree.paths(r".+\.sh"), ["-f", "gcc"], _SHELLCHECK_LINE, "script")


def _file_linter(tree: Tree, tool: str, paths: list[str], options: list[str], shape: re.Pattern[str],
                 what: str) -> Check:
    executable = _tool_for(tool, tool, paths, f"no {what}s")
    if isinstance(executable, Check):
        return executable
    code, output = _run([executable, *options, *paths], cwd=tree.root)
    problems = [_line(shape, line) for line in _relative(tree, output).splitlines() if line.strip()]
    if code != 0 and not problems:
        problems = [f"{tool} exited {code} without saying why"]
    return _outcome(tool, problems, _counted(len(paths), what))


# -- invariants -------------------------------------------------------------------------------------------------------


def _rule_check(name: str, rule: invariants.Rule, tree: Tree) -> Check:
    platforms = invariants.platforms(tree.files)
    problems = sorted({str(problem) for platform in platforms for problem in rule(platform)})
    return _outcome(f"invariant: {name}", problems, _counted(len(platforms), "platform"))


JUDGES: tuple[Callable[[Tree], Check], ...] = (
    kubernetes_schemas, terraform_schemas, helm_values, promtool, amtool, actionlint, workflow_schema, compose_schema,
    docker_compose, hadolint, shellcheck,
)


def summary(checks: Iterable[Check]) -> list[str]:
    """One line per check, then the totals."""
    checks = list(checks)
    lines = [f"  {check.status:<8} {check.name}" + (f" ({check.note})" if check.note else "")
             + (f": {_counted(len(check.problems), 'problem')}" if check.problems else "") for check in checks]
    counts = {status: sum(1 for check in checks if check.status == status) for status in ("passed", "failed", "not run")}
    problems = sum(len(check.problems) for check in checks)
    lines.append(f"{_counted(problems, 'problem')}; checks: {counts['passed']} passed, {counts['failed']} failed, "
                 f"{counts['not run']} not run")
    return lines
