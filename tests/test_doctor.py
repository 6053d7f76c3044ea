"""`bizinfra doctor`: each problem planted in a repository is named once, as `path: what is wrong; what to do`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bizinfra.cli import main
from bizinfra.doctor import Repo, build_output, diagnose, requirements
from bizinfra.spec.loader import load_platform
from bizinfra.spec.models import Receiver

REPOS = Path(__file__).parent / "fixtures" / "repos"
BROKEN = REPOS / "broken"

# What tests/fixtures/repos/broken plants, each by the start of the line that must name it.
PLANTED = [
    "package-lock.json: missing; delivery.install runs `npm ci`",
    "nx.json: missing; the generated Dockerfile's default build runs `npx nx build <project>`",
    'package.json: no "lint" script, which delivery.lint runs (`npm run lint`)',
    'package.json: no "migrate:rollback" script, which delivery.rollback runs',
    "package.json: prisma is not a dependency",
    'apps/auth/project.json: the Nx project is named "auth-api"',
    "apps/auth/project.json: the build writes dist/auth, and the generated Dockerfile copies dist/apps/auth",
    "apps/auth/src/main.ts: listens on 4000, and the spec gives auth port 3001",
    "apps/billing/: missing; the generated Dockerfile builds service billing from it",
    "apps/orders/: no build target; the generated Dockerfile runs `npx nx build orders`",
    "requirements-bizinfra.txt: missing; the infrastructure workflow installs bizinfra with `pip install -r",
    "monitoring.receivers: none declared, so every alert goes to Alertmanager's null receiver and reaches nobody",
]


def test_each_planted_problem_is_named_exactly_once() -> None:
    _, problems = diagnose(BROKEN, load_platform(BROKEN / "specs" / "broken.yaml"))
    for planted in PLANTED:
        assert sum(problem.startswith(planted) for problem in problems) == 1, planted
    assert len(problems) == len(PLANTED), problems
    assert all("; " in problem or ": " in problem.split(": ", 1)[1] for problem in problems)  # says what to do


def test_the_command_prints_one_line_per_problem_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--repo", str(BROKEN)]) == 1
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == len(PLANTED)
    assert captured.err.startswith(f"{len(PLANTED)} problems in ")


def test_a_repository_without_package_json_is_told_once(tmp_path: Path) -> None:
    (tmp_path / "apps" / "auth").mkdir(parents=True)
    _, problems = diagnose(tmp_path, load_platform(BROKEN / "specs" / "broken.yaml"))
    assert sum(problem.startswith("package.json") for problem in problems) == 1
    assert not any(problem.startswith(("package-lock.json", "package.json: no")) for problem in problems)


@pytest.mark.parametrize(("command", "needs"), [
    ("npm run lint", [("script", "lint")]),
    ("npm test -- --coverage", [("script", "test")]),
    ("CI=1 npm t && npx eslint .", [("script", "test"), ("package", "eslint")]),
    ("npx nx run-many -t lint", [("package", "nx")]),
    ("npx tsc --noEmit", [("package", "typescript")]),
    ("pnpm lint", [("script", "lint")]),
    ("pnpm install --frozen-lockfile", []),
    ("yarn run migrate:rollback", [("script", "migrate:rollback")]),
    ("npx prisma@6 migrate deploy", [("package", "prisma")]),
    ("make lint", []),
])
def test_what_a_delivery_command_needs(command: str, needs: list[tuple[str, str]]) -> None:
    assert requirements(command) == needs


def test_a_bad_spec_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: x\ndomain: x.example.com\nservices: {web: {port: 70000}}\n")
    assert main(["doctor", "--repo", str(BROKEN), "--spec", str(spec)]) == 2
    error = capsys.readouterr().err
    assert "must be between 1 and 65535" in error and "nothing was checked" in error


def test_a_missing_repository_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--repo", "nowhere"]) == 2
    assert capsys.readouterr().err == "bizinfra doctor: nowhere: no such folder\n"


@pytest.mark.parametrize(("text", "problem"), [
    ("bizinfra[validate]==0.3.0\n", None),
    ("# pinned\n--index-url https://pypi.org/simple\nbizinfra[validate] @ git+https://github.com/a/bizinfra@0a1b2c  # x\n",
     None),
    ("bizinfra[validate]==0.3.0 --hash=sha256:00\n", None),
    ("# check: name where it is published\n", "requirements-bizinfra.txt: names no bizinfra requirement; write"),
    ("bizinfra==0.3.0\n", "requirements-bizinfra.txt: bizinfra==0.3.0: add the validate extra"),
    ("bizinfra[validate]\n", "requirements-bizinfra.txt: bizinfra[validate]: no version does not pin one build"),
])
def test_the_requirements_file_ci_installs_bizinfra_from(tmp_path: Path, text: str, problem: str | None) -> None:
    (tmp_path / "requirements-bizinfra.txt").write_text(text)
    _, problems = diagnose(tmp_path, load_platform(BROKEN / "specs" / "broken.yaml"))
    found = [line for line in problems if line.startswith("requirements-bizinfra.txt")]
    assert found == [] if problem is None else len(found) == 1 and found[0].startswith(problem), found


def test_a_requirement_in_the_spec_needs_no_file(tmp_path: Path) -> None:
    platform = load_platform(BROKEN / "specs" / "broken.yaml")
    delivery = platform.delivery.model_copy(update={"bizinfra": "bizinfra[validate]==0.3.0"})
    _, problems = diagnose(tmp_path, platform.model_copy(update={"delivery": delivery}))
    assert not any(line.startswith("requirements-bizinfra.txt") for line in problems)
def test_pages_or_tickets_nobody_receives_are_named() -> None:
    """Receivers declared but none named for a severity: those alerts reach Alertmanager's null receiver."""
    platform = load_platform(BROKEN / "specs" / "broken.yaml")
    monitoring = platform.monitoring.model_copy(update={"receivers": {"chat": Receiver(kind="webhook")},
                                                        "tickets": ("chat",)})
    _, problems = diagnose(BROKEN, platform.model_copy(update={"monitoring": monitoring}))
    assert [p for p in problems if p.startswith("monitoring.")] == [
        "monitoring.pages: empty, so critical alerts (pages) reach nobody; name the receivers that should hear of them"]


def test_a_services_own_output_inside_the_build_folder_is_not_a_problem(tmp_path: Path) -> None:
    """A Next.js front end's image copies .next/standalone, inside the folder its project writes."""
    project = tmp_path / "apps" / "web"
    project.mkdir(parents=True)
    (project / "project.json").write_text('{"targets": {"build": {"options": {"outputPath": "dist/apps/web"}}}}')
    repo = Repo(tmp_path)
    assert build_output(repo, "web", "dist/apps/web/.next/standalone") == []
    assert build_output(repo, "web", "dist/apps/web") == []
    assert build_output(repo, "web", "dist/apps/website")[0].startswith(
        "apps/web/project.json: the build writes dist/apps/web, and the generated Dockerfile copies dist/apps/website")
