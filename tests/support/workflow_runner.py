"""Run a generated workflow's jobs for real, in bash, in a scratch copy of a repository, against stand-ins.

What runs as GitHub runs it: each job in a fresh workspace (empty until its checkout), steps in order with
`bash --noprofile --norc -eo pipefail` (the `shell: bash` of the workflows), their `env:` (workflow, job, step,
and what earlier steps wrote to GITHUB_ENV), `working-directory`, `if:` (GitHub's expression language: contexts,
`==`/`!=`/`&&`/`||`/`!`, the status functions, and `success() &&` implied), step outputs (GITHUB_OUTPUT, both
forms), GITHUB_STEP_SUMMARY, job `needs:` and `if:`.

What is emulated: every `uses:` by the table ACTIONS (checkout = copy the scratch repository in, setup-* = nothing,
upload/download-artifact = a folder the run shares, configure-aws-credentials = environment variables naming the
role, after checking the job may request an OIDC token and, when the world knows the role's trust, that the job's
OIDC subject matches it). An action missing from the table stops the test: extend the table.

The commands the jobs call are stand-ins (tests/support/stand_ins/): an executable and a state directory. They
share `<state>/calls.jsonl` (one line per call: tool, arguments, folder, role, job, exit status) and
`<state>/failures.json` (a call that must fail). A new stand-in (kubectl, kustomize) is a program there, built on
`stand_ins/stand_in.py`, named in `World(stand_ins=...)`.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STAND_INS = Path(__file__).resolve().parent / "stand_ins"
STEP_TIMEOUT = 60  # seconds: a stand-in answers at once, so a step this slow is a hung script
SYSTEM_PATH = "/usr/bin:/bin"  # after the stand-ins; never /usr/local/bin, where a real terraform may live


class RunnerError(Exception):
    """The test asked for something the runner does not emulate: a test bug, not a failing job."""


class StepFailed(Exception):
    """An emulated action failed, as the real one would."""


# -- the event -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    name: str
    ref: str
    repository: str
    payload: dict[str, Any] = field(default_factory=dict)
    sha: str = "0123456789abcdef0123456789abcdef01234567"

    @classmethod
    def pull_request(cls, repository: str, base: str = "main", number: int = 7, fork: str | None = None) -> Event:
        head = {"repo": {"full_name": fork or repository}}
        return cls("pull_request", f"refs/pull/{number}/merge", repository,
                   {"number": number, "pull_request": {"number": number, "head": head, "base": {"ref": base}}})

    @classmethod
    def push(cls, repository: str, branch: str) -> Event:
        return cls("push", f"refs/heads/{branch}", repository)

    @classmethod
    def schedule(cls, repository: str, default_branch: str = "main") -> Event:
        return cls("schedule", f"refs/heads/{default_branch}", repository, {"schedule": "23 5 * * *"})

    def subject(self, environment: str | None) -> str:
        """The `sub` claim GitHub's OIDC token carries for a job of this event."""
        if environment:
            return f"repo:{self.repository}:environment:{environment}"
        if self.name == "pull_request":
            return f"repo:{self.repository}:pull_request"
        return f"repo:{self.repository}:ref:{self.ref}"


# -- results ---------------------------------------------------------------------------------------------------


@dataclass
class StepResult:
    name: str
    outcome: str  # success, failure, skipped
    outputs: dict[str, str] = field(default_factory=dict)
    log: str = ""


@dataclass
class JobResult:
    job_id: str
    status: str  # success, failure, skipped, or "not run" (its `if:` held, but the test did not ask for it)
    steps: list[StepResult] = field(default_factory=list)
    summary: str = ""
    environment: str | None = None

    def step(self, name: str) -> StepResult:
        (found,) = [step for step in self.steps if step.name == name]
        return found

    def ran(self) -> list[str]:
        return [step.name for step in self.steps if step.outcome != "skipped"]

    @property
    def log(self) -> str:
        return "".join(f"--- {step.name} ({step.outcome})\n{step.log}" for step in self.steps)


# -- the world the jobs act on ----------------------------------------------------------------------------------


class World:
    """What outlives a job: the scratch repository, the stand-ins and their state, the run's artifacts."""

    def __init__(self, root: Path, repository: Path, stand_ins: Iterable[str],
                 variables: dict[str, str] | None = None, trust: dict[str, tuple[str, ...]] | None = None) -> None:
        self.root, self.repository = root, repository
        self.state, self.bin = root / "state", root / "bin"
        for folder in (self.state, self.bin):
            folder.mkdir(parents=True, exist_ok=True)
        self.runs = 0
        self.run_folder = root / "runs" / "0"
        self.variables = variables or {"AWS_ACCOUNT_ID": "123456789012"}
        self.trust = trust or {}  # role ARN -> the OIDC subjects (IAM StringLike patterns) it trusts
        for name in stand_ins:
            self.add_stand_in(name)

    def add_stand_in(self, name: str, program: Path | None = None) -> None:
        """`name` on the jobs' PATH runs `program` (default stand_ins/<name>.py) with this world's state."""
        program = program or STAND_INS / f"{name}.py"
        if not program.is_file():
            raise RunnerError(f"no stand-in program {program}")
        wrapper = self.bin / name
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{program}" "$@"\n')
        wrapper.chmod(0o755)

    def fail(self, tool: str, *words: str, where: str = "", exit_code: int = 1, message: str = "") -> None:
        """The next call of `tool` whose arguments include every word, in a folder whose path contains `where`,
        fails with `exit_code` (once)."""
        path = self.state / "failures.json"
        failures = json.loads(path.read_text()) if path.exists() else []
        failures.append({"tool": tool, "words": list(words), "where": where, "exit": exit_code,
                         "message": message or f"{tool} {' '.join(words)}: failed, as the test asked"})
        path.write_text(json.dumps(failures))

    @property
    def artifacts(self) -> Path:
        """The latest run's artifacts (each run has its own, as on GitHub)."""
        return self.run_folder / "artifacts"

    def calls(self, tool: str | None = None) -> list[dict[str, Any]]:
        path = self.state / "calls.jsonl"
        found = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        return [call for call in found if tool is None or call["tool"] == tool]

    def run_workflow(self, workflow: dict[str, Any], event: Event,
                     only: Iterable[str] | None = None) -> dict[str, JobResult]:
        """Every job in `needs` order; with `only`, the other jobs are judged by their `if:` but not run."""
        wanted = None if only is None else set(only)
        self.runs += 1
        self.run_folder = self.root / "runs" / str(self.runs)
        self.artifacts.mkdir(parents=True)
        results: dict[str, JobResult] = {}
        for job_id in _in_needs_order(workflow["jobs"]):
            job = workflow["jobs"][job_id]
            needs = [job["needs"]] if isinstance(job.get("needs"), str) else job.get("needs", [])
            outcome = Job(self, workflow, job_id, event, {name: results[name] for name in needs})
            if not outcome.should_run():
                results[job_id] = JobResult(job_id, "skipped")
            elif wanted is not None and job_id not in wanted:
                results[job_id] = JobResult(job_id, "not run")
            else:
                results[job_id] = outcome.run()
        return results


def _in_needs_order(jobs: dict[str, Any]) -> list[str]:
    done: list[str] = []
    while len(done) < len(jobs):
        ready = [job_id for job_id, job in jobs.items() if job_id not in done and all(
            need in done for need in ([job["needs"]] if isinstance(job.get("needs"), str) else job.get("needs", [])))]
        if not ready:
            raise RunnerError("the jobs' needs form a cycle")
        done += ready
    return done


# -- one job ----------------------------------------------------------------------------------------------------


class Job:
    def __init__(self, world: World, workflow: dict[str, Any], job_id: str, event: Event,
                 needs: dict[str, JobResult], matrix: dict[str, Any] | None = None) -> None:
        self.world, self.workflow, self.job_id, self.event, self.needs = world, workflow, job_id, event, needs
        self.spec = workflow["jobs"][job_id]
        if "strategy" in self.spec and matrix is None:
            raise RunnerError(f"{job_id} has a matrix: run it with Job(..., matrix={{...}}) per combination")
        self.matrix = matrix or {}
        environment = self.spec.get("environment")
        self.environment = environment.get("name") if isinstance(environment, dict) else environment
        self.folder = world.run_folder / "jobs" / job_id
        self.workspace, self.temp = self.folder / "workspace", self.folder / "temp"
        self.extra_env: dict[str, str] = {}
        self.steps: dict[str, StepResult] = {}
        self.status = "success"

    # -- expressions ---------------------------------------------------------------------------------------------

    def context(self) -> dict[str, Any]:
        return {
            "github": {"event_name": self.event.name, "ref": self.event.ref, "sha": self.event.sha,
                       "repository": self.event.repository, "run_id": "4242", "run_attempt": "1",
                       "actor": "octocat", "token": "stand-in-token", "workspace": str(self.workspace),
                       "base_ref": self.event.payload.get("pull_request", {}).get("base", {}).get("ref", ""),
                       "event": self.event.payload, "job": self.job_id},
            "vars": self.world.variables,
            "secrets": {"GITHUB_TOKEN": "stand-in-token"},
            "env": self.env_context(),
            "steps": {step_id: {"outputs": r.outputs, "outcome": r.outcome,
                                "conclusion": r.outcome} for step_id, r in self.steps.items()},
            "needs": {name: {"result": r.status, "outputs": {}} for name, r in self.needs.items()},
            "matrix": self.matrix,
            "inputs": self.event.payload.get("inputs", {}),
            "runner": {"os": "Linux", "temp": str(self.temp)},
            "job": {"status": self.status},
        }

    def env_context(self) -> dict[str, str]:
        return {**self.workflow.get("env", {}), **self.spec.get("env", {}), **self.extra_env}

    def evaluate(self, expression: str) -> Any:
        return Expression(expression, self.context(), self.status_functions()).value()

    def interpolate(self, value: Any) -> str:
        """A value of env:/with:, `${{ }}` replaced by its value as text."""
        if isinstance(value, bool):
            return "true" if value else "false"
        return re.sub(r"\$\{\{(.*?)\}\}", lambda match: _as_text(self.evaluate(match[1])), str(value))

    def status_functions(self) -> dict[str, Callable[..., Any]]:
        return {"success": lambda: self.status == "success", "failure": lambda: self.status == "failure",
                "always": lambda: True, "cancelled": lambda: False}

    def condition(self, text: Any) -> bool:
        if text is None:
            return self.status == "success"
        expression = str(text).strip()
        if expression.startswith("${{") and expression.endswith("}}"):
            expression = expression[3:-2]
        if not re.search(r"\b(success|failure|always|cancelled)\s*\(", expression):
            expression = f"success() && ({expression})"
        return _truthy(self.evaluate(expression))

    def should_run(self) -> bool:
        if any(result.status != "success" for result in self.needs.values()):
            self.status = "failure"
        return self.condition(self.spec.get("if"))

    # -- running -------------------------------------------------------------------------------------------------

    def run(self) -> JobResult:
        for folder in (self.workspace, self.temp):
            folder.mkdir(parents=True, exist_ok=True)
        results = []
        for index, step in enumerate(self.spec["steps"]):
            name = self.interpolate(step.get("name", step.get("uses", step.get("run", "")).splitlines()[0]))
            if not self.condition(step.get("if")):
                result = StepResult(name, "skipped")
            else:
                result = self.run_step(step, name, index)
                if result.outcome == "failure" and not step.get("continue-on-error"):
                    self.status = "failure"
            results.append(result)
            if "id" in step:
                self.steps[step["id"]] = result
        summary = "".join(path.read_text() for path in sorted(self.temp.glob("summary-*"),
                                                              key=lambda p: int(p.name.split("-")[1])))
        return JobResult(self.job_id, self.status, results, summary, self.environment)

    def run_step(self, step: dict[str, Any], name: str, index: int) -> StepResult:
        files = {kind: self.temp / f"{kind}-{index}" for kind in ("output", "env", "path", "summary")}
        for path in files.values():
            path.write_text("")
        env = self.base_env(files)
        env.update({key: self.interpolate(value) for key, value in self.env_context().items()})
        env.update({key: self.interpolate(value) for key, value in step.get("env", {}).items()})
        if "uses" in step:
            outcome, log = self.run_action(step, env)
        else:
            outcome, log = self.run_script(step, env)
        self.extra_env.update(_key_values(files["env"].read_text()))
        return StepResult(name, outcome, _key_values(files["output"].read_text()), log)

    def base_env(self, files: dict[str, Path]) -> dict[str, str]:
        event_file = self.temp / "event.json"
        event_file.write_text(json.dumps(self.event.payload))
        return {
            "PATH": f"{self.world.bin}:{SYSTEM_PATH}", "HOME": str(self.folder), "LANG": "C.UTF-8",
            "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_EVENT_NAME": self.event.name, "GITHUB_EVENT_PATH": str(event_file), "GITHUB_REF": self.event.ref,
            "GITHUB_SHA": self.event.sha, "GITHUB_REPOSITORY": self.event.repository, "GITHUB_JOB": self.job_id,
            "GITHUB_RUN_ID": "4242", "RUNNER_TEMP": str(self.temp), "STAND_IN_STATE": str(self.world.state),
            "GITHUB_OUTPUT": str(files["output"]), "GITHUB_ENV": str(files["env"]),
            "GITHUB_PATH": str(files["path"]), "GITHUB_STEP_SUMMARY": str(files["summary"]),
        }

    def run_script(self, step: dict[str, Any], env: dict[str, str]) -> tuple[str, str]:
        shell = step.get("shell", self.defaults().get("shell", "bash"))
        if shell != "bash":
            raise RunnerError(f"{self.job_id}: only `shell: bash` is emulated, not {shell}")
        folder = step.get("working-directory", self.defaults().get("working-directory"))
        cwd = self.workspace / self.interpolate(folder) if folder else self.workspace
        script = self.temp / "step.sh"
        script.write_text(step["run"])
        if not cwd.is_dir():
            return "failure", f"No such file or directory: the working directory {folder} does not exist\n"
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=cwd, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=STEP_TIMEOUT)
        return ("success" if result.returncode == 0 else "failure"), result.stdout

    def defaults(self) -> dict[str, Any]:
        return {**self.workflow.get("defaults", {}).get("run", {}), **self.spec.get("defaults", {}).get("run", {})}

    def run_action(self, step: dict[str, Any], env: dict[str, str]) -> tuple[str, str]:
        action = str(step["uses"]).partition("@")[0]
        if action not in ACTIONS:
            raise RunnerError(f"{self.job_id}: no emulation of {action}: add one to workflow_runner.ACTIONS")
        inputs = {key: self.interpolate(value) for key, value in step.get("with", {}).items()}
        try:
            log = ACTIONS[action](self, inputs) or ""
        except StepFailed as error:
            return "failure", f"{error}\n"
        return "success", log


# -- the emulated actions ---------------------------------------------------------------------------------------


def checkout(job: Job, inputs: dict[str, str]) -> str:
    shutil.copytree(job.world.repository, job.workspace, symlinks=True, dirs_exist_ok=True)
    return f"checked out {job.event.repository} at {job.event.sha}"


def nothing(job: Job, inputs: dict[str, str]) -> str:
    return "set up (the stand-ins are already on PATH)"


def upload_artifact(job: Job, inputs: dict[str, str]) -> str:
    target = job.world.artifacts / inputs["name"]
    if target.exists():
        raise StepFailed(f"an artifact named {inputs['name']} already exists in this run")
    patterns = [line.strip() for line in inputs["path"].splitlines() if line.strip()]
    hidden = inputs.get("include-hidden-files") == "true"
    found: list[Path] = []
    for pattern in patterns:
        for match in sorted(job.workspace.glob(pattern)):
            files = sorted(p for p in match.rglob("*") if p.is_file()) if match.is_dir() else [match]
            found += [p for p in files if hidden or not any(part.startswith(".") for part in
                                                               p.relative_to(job.workspace).parts)]
    if not found:
        if inputs.get("if-no-files-found", "warn") == "error":
            raise StepFailed(f"No files were found with the provided path: {inputs['path']}")
        return "no files to upload"
    # The artifact keeps paths below the search paths' least common ancestor, as upload-artifact does.
    roots = [(job.workspace / pattern.split("*")[0]).parent for pattern in patterns]
    common = Path(os.path.commonpath([str(root) for root in roots]))
    for path in found:
        copy = target / path.relative_to(common)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
    return f"uploaded {len(found)} files as {inputs['name']}"


def download_artifact(job: Job, inputs: dict[str, str]) -> str:
    source = job.world.artifacts / inputs["name"]
    if not source.is_dir():
        raise StepFailed(f"Artifact not found for name: {inputs['name']}")
    shutil.copytree(source, job.workspace / inputs.get("path", "."), dirs_exist_ok=True)
    return f"downloaded {inputs['name']}"


def configure_aws_credentials(job: Job, inputs: dict[str, str]) -> str:
    if job.spec.get("permissions", {}).get("id-token") != "write":
        raise StepFailed("Could not get ID token: the job lacks `permissions: id-token: write`")
    role = inputs["role-to-assume"]
    subject = job.event.subject(job.environment)
    patterns = job.world.trust.get(role)
    if patterns is not None and not any(fnmatch.fnmatchcase(subject, pattern) for pattern in patterns):
        raise StepFailed(f"Not authorized to perform sts:AssumeRoleWithWebIdentity: {role} does not trust {subject}")
    job.extra_env.update({"AWS_ACCESS_KEY_ID": "ASIASTANDIN", "AWS_SECRET_ACCESS_KEY": "stand-in",
                          "AWS_SESSION_TOKEN": "stand-in", "AWS_REGION": inputs["aws-region"],
                          "AWS_DEFAULT_REGION": inputs["aws-region"], "STAND_IN_ROLE": role})
    return f"assumed {role} as {subject}"


ACTIONS: dict[str, Callable[[Job, dict[str, str]], str]] = {
    "actions/checkout": checkout,
    "actions/setup-python": nothing,
    "actions/setup-node": nothing,
    "hashicorp/setup-terraform": nothing,
    "docker/setup-buildx-action": nothing,
    "actions/upload-artifact": upload_artifact,
    "actions/download-artifact": download_artifact,
    "aws-actions/configure-aws-credentials": configure_aws_credentials,
}


# -- GitHub's expression language, the part the workflows use -------------------------------------------------------


_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<op>==|!=|<=|>=|&&|\|\||[!<>(),.\[\]])"
                    r"|(?P<word>[A-Za-z_][A-Za-z0-9_-]*|\*))")


class Expression:
    """A recursive-descent reader of GitHub expressions: literals, contexts and properties, `!`, comparisons
    (strings compared case-insensitively, mixed types as numbers), `&&`/`||` (returning an operand), calls."""

    def __init__(self, text: str, context: dict[str, Any], functions: dict[str, Callable[..., Any]]) -> None:
        self.tokens = self.tokenize(text)
        self.position, self.context = 0, context
        self.functions = {**functions, "contains": _contains, "startsWith": _starts_with,
                          "endsWith": lambda a, b: str(a).lower().endswith(str(b).lower()),
                          "format": _format, "toJSON": json.dumps}

    @staticmethod
    def tokenize(text: str) -> list[tuple[str, str]]:
        tokens, position = [], 0
        while position < len(text.rstrip()):
            match = _TOKEN.match(text, position)
            if not match or match.end() == position:
                raise RunnerError(f"cannot read the expression {text!r} at {position}")
            kind = match.lastgroup or ""
            tokens.append((kind, match[kind]))
            position = match.end()
        return tokens

    def value(self) -> Any:
        result = self.either()
        if self.position != len(self.tokens):
            raise RunnerError(f"unexpected {self.tokens[self.position][1]!r}")
        return result

    def peek(self) -> str:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.tokens[self.position]
        if expected is not None and token[1] != expected:
            raise RunnerError(f"expected {expected!r}, found {token[1]!r}")
        self.position += 1
        return token

    def either(self) -> Any:
        left = self.both()
        while self.peek() == "||":
            self.take()
            right = self.both()
            left = left if _truthy(left) else right
        return left

    def both(self) -> Any:
        left = self.comparison()
        while self.peek() == "&&":
            self.take()
            right = self.comparison()
            left = right if _truthy(left) else left
        return left

    def comparison(self) -> Any:
        left = self.unary()
        while self.peek() in ("==", "!=", "<", ">", "<=", ">="):
            operator = self.take()[1]
            left = _compare(operator, left, self.unary())
        return left

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not _truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, text = self.take()
        if text == "(":
            inner = self.either()
            self.take(")")
            return inner
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text) if "." in text else int(text)
        if text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text]
        if self.peek() == "(":
            return self.call(text)
        return self.properties(self.context.get(text))

    def call(self, name: str) -> Any:
        self.take("(")
        arguments = []
        while self.peek() != ")":
            arguments.append(self.either())
            if self.peek() == ",":
                self.take()
        self.take(")")
        if name not in self.functions:
            raise RunnerError(f"the function {name}() is not emulated")
        return self.functions[name](*arguments)

    def properties(self, value: Any) -> Any:
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                key = self.take()[1]
            else:
                key = str(self.either())
                self.take("]")
            value = value.get(key) if isinstance(value, dict) else None
        return value


def _truthy(value: Any) -> bool:
    return not (value is None or value is False or value == 0 or value == "" or
                (isinstance(value, float) and math.isnan(value)))


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip() or 0)
        except ValueError:
            return math.nan
    return math.nan


def _compare(operator: str, left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        a: Any = left.casefold()
        b: Any = right.casefold()
    elif type(left) is type(right) and isinstance(left, (dict, list)):
        a, b = id(left), id(right)  # objects are equal only when they are the same instance
    else:
        a, b = _number(left), _number(right)
    return {"==": lambda: a == b, "!=": lambda: a != b, "<": lambda: a < b, ">": lambda: a > b,
            "<=": lambda: a <= b, ">=": lambda: a >= b}[operator]()


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return any(_compare("==", item, needle) for item in haystack)
    return str(needle).casefold() in str(haystack).casefold()


def _starts_with(text: Any, prefix: Any) -> bool:
    return str(text).casefold().startswith(str(prefix).casefold())


def _format(template: str, *arguments: Any) -> str:
    return re.sub(r"\{(\d+)\}", lambda match: _as_text(arguments[int(match[1])]), template)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _key_values(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT and GITHUB_ENV: `key=value` lines and `key<<DELIMITER` blocks."""
    values: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, _, delimiter = line.partition("<<")
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            else:
                raise RunnerError(f"the block of {key} never ends with {delimiter}")
            values[key] = "\n".join(block)
        elif "=" in line:
            key, _, value = line.partition("=")
            values[key] = value
        elif line.strip():
            raise RunnerError(f"not an output line: {line!r}")
    return values
