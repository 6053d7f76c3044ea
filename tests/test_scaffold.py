"""`bizinfra init`: from a repository's files to a spec that loads, builds, and that doctor finds true of the repository."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import bizinfra
from bizinfra.cli import main
from bizinfra.doctor import diagnose
from bizinfra.scaffold import (
    SCHEMA_MODELINE,
    InitError,
    bizinfra_requirement,
    detect,
    read_repository,
    requirements_text,
)
from bizinfra.spec.models import requirement_problem

REPOS = Path(__file__).parent / "fixtures" / "repos"
FIXTURES = ("nx-nest", "npm-workspaces", "single-app")


def spec_of(fixture: str, **options: str) -> bizinfra.Spec:
    guess = detect(read_repository(REPOS / fixture), fixture, **options)
    return bizinfra.parse_spec(guess.text, "specs/test.yaml")


@pytest.mark.parametrize("fixture", FIXTURES)
def test_init_writes_a_spec_that_builds(fixture: str) -> None:
    guess = detect(read_repository(REPOS / fixture), fixture)
    assert guess.text.splitlines()[0] == SCHEMA_MODELINE
    tree = bizinfra.build([bizinfra.parse_spec(guess.text, "specs/test.yaml")])
    assert any(path.endswith("docker-compose.yml") for path in tree.files)


NO_RECEIVERS = ("monitoring.receivers: none declared, so every alert goes to Alertmanager's null receiver and reaches "
                "nobody; declare receivers and name them in monitoring.pages and monitoring.tickets")


@pytest.mark.parametrize("fixture", ["nx-nest", "npm-workspaces"])
def test_doctor_finds_an_inited_monorepo_true_to_its_spec(fixture: str) -> None:
    """Only who hears of alerts is left to say, which init cannot guess and told to check."""
    count, problems = diagnose(REPOS / fixture, spec_of(fixture).platform)
    assert problems == [NO_RECEIVERS]
    assert count > 10


def test_a_single_app_is_told_what_the_dockerfile_needs_and_nothing_else() -> None:
    """The generated Dockerfile builds Nx monorepos: for a single app, doctor names exactly that, and init said so."""
    guess = detect(read_repository(REPOS / "single-app"), "single-app")
    assert any("the generated Dockerfile builds an Nx monorepo" in line for line in guess.check)
    _, problems = diagnose(REPOS / "single-app", spec_of("single-app").platform)
    assert [problem.split(":")[0] for problem in problems] == [
        "nx.json", "package.json", "monitoring.receivers", "apps/app/"]
    assert all("Dockerfile" in problem for problem in problems if problem != NO_RECEIVERS)


def test_the_nx_workspace_is_read_as_written() -> None:
    platform = spec_of("nx-nest").platform
    assert platform.name == "business"  # @acme/business, without its scope
    assert sorted(platform.services) == ["api-gateway", "auth-service", "orders"]  # not the e2e project
    services = platform.services
    assert (services["api-gateway"].port, services["auth-service"].port) == (3000, 3001)
    assert services["orders"].port == 3002  # its 3001 was taken: the next free one
    assert services["api-gateway"].calls == ("auth-service", "orders")
    assert services["api-gateway"].public is not None
    assert services["auth-service"].uses == ("postgres", "redis")
    assert services["auth-service"].secrets == ("JWT_SECRET",)
    assert services["orders"].uses == ()
    assert {name: store.engine for name, store in platform.datastores.items()} == {"postgres": "postgres",
                                                                                  "redis": "redis"}
    delivery = platform.delivery
    assert (delivery.install, delivery.lint, delivery.test) == ("npm ci", "npx nx run-many -t lint",
                                                                "npx nx run-many -t test --coverage")
    assert delivery.migrate == "npx prisma migrate deploy"


def test_npm_workspaces_are_read_from_their_globs() -> None:
    platform = spec_of("npm-workspaces").platform
    assert sorted(platform.services) == ["catalog", "storefront"]  # libs/ui is a library
    assert platform.services["catalog"].port == 8081  # from its .env
    assert platform.services["storefront"].port == 8080  # listen(process.env.PORT || 8080)
    assert platform.services["storefront"].calls == ("catalog",)
    assert platform.services["storefront"].uses == ("redis",)
    assert (platform.delivery.lint, platform.delivery.test) == ("npm run lint", "npm test -- --coverage")


def test_a_single_app_with_pnpm() -> None:
    platform = spec_of("single-app").platform
    assert list(platform.services) == ["app"]
    app = platform.services["app"]
    assert (app.port, app.uses, app.secrets) == (4000, ("postgres", "redis"), ("STRIPE_API_KEY",))
    assert platform.delivery.install == "pnpm install --frozen-lockfile"
    assert platform.delivery.lint == "pnpm run lint"


def test_unknown_and_clashing_ports_get_free_ones_from_3000() -> None:
    files = {"package.json": '{"name": "x", "workspaces": ["apps/*"]}', "package-lock.json": "",
             "apps/a/package.json": '{"scripts": {"start": "node ."}}',
             "apps/b/package.json": '{"scripts": {"start": "node ."}}', "apps/b/.env": "PORT=5432\n",
             "apps/c/package.json": '{"scripts": {"start": "node ."}}', "apps/c/src/main.ts": "app.listen(3000)"}
    guess = detect(files, "x")
    platform = bizinfra.parse_spec(guess.text, "specs/x.yaml").platform
    assert {name: service.port for name, service in platform.services.items()} == {"a": 3001, "b": 3002, "c": 3000}
    assert "b: port 5432 (apps/b/.env) is already taken; given another below" in guess.check


@pytest.mark.parametrize(("lockfile", "extra", "install"), [
    ("yarn.lock", {".yarnrc.yml": ""}, "yarn install --immutable"),
    ("yarn.lock", {}, "yarn install --frozen-lockfile"),
    ("pnpm-lock.yaml", {}, "pnpm install --frozen-lockfile"),
])
def test_the_lockfile_decides_the_install_command(lockfile: str, extra: dict[str, str], install: str) -> None:
    files = {"package.json": '{"name": "x", "scripts": {"start": "node ."}}', lockfile: "", **extra}
    assert bizinfra.parse_spec(detect(files, "x").text, "specs/x.yaml").platform.delivery.install == install


def test_the_github_remote_names_the_deploying_repository() -> None:
    files = {"package.json": '{"name": "x"}', "src/main.ts": "",
             ".git/config": '[remote "origin"]\n\turl = git@github.com:acme/shop.git\n'}
    assert bizinfra.parse_spec(detect(files, "x").text, "specs/x.yaml").platform.delivery.repository == "acme/shop"


def test_an_app_named_like_the_platform_renames_the_platform() -> None:
    files = {"package.json": '{"name": "shop"}', "nx.json": "{}",
             "apps/shop/project.json": '{"projectType": "application"}'}
    assert bizinfra.parse_spec(detect(files, "x").text, "specs/x.yaml").platform.name == "shop-platform"


def test_no_package_json_is_bad_input() -> None:
    with pytest.raises(InitError, match=r"no package\.json"):
        detect({"README.md": ""}, "x")
    with pytest.raises(InitError, match=r"package\.json is not a JSON object"):
        detect({"package.json": "{"}, "x")


def test_a_folder_name_the_spec_cannot_take_is_renamed_and_said() -> None:
    files = {"package.json": '{"name": "x"}', "nx.json": "{}", "apps/Auth_API/project.json": '{"projectType": "application"}'}
    guess = detect(files, "x")
    assert list(bizinfra.parse_spec(guess.text, "specs/x.yaml").platform.services) == ["auth-api"]
    assert any(line.startswith("apps/Auth_API is service auth-api") for line in guess.check)


# -- the command ------------------------------------------------------------------------------------------------


def test_init_writes_the_spec_generate_takes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(REPOS / "nx-nest", repo)
    (repo / "requirements-bizinfra.txt").unlink()
    assert main(["init", "--repo", str(repo), "--name", "acme", "--domain", "acme.io"]) == 0
    output = capsys.readouterr().out
    spec = repo / "specs" / "acme.yaml"
    assert "wrote " in output and "check:" in output and "orders: port 3002 assigned" in output
    assert spec.read_text().startswith(SCHEMA_MODELINE + "\n")
    assert main(["generate", "--spec", str(spec), "--out", str(tmp_path / "generated")]) == 0
    capsys.readouterr()
    # This bizinfra runs from a checkout: init says so, and doctor names the requirement to write, and that alerts
    # reach nobody until receivers are declared (under check:, too).
    assert "wrote requirements-bizinfra.txt without a requirement. check:" in output
    assert any(line.strip().startswith("monitoring.receivers: none") for line in output.splitlines())
    assert main(["doctor", "--repo", str(repo)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        NO_RECEIVERS, "requirements-bizinfra.txt: names no bizinfra requirement; write a requirement such as "
        "'bizinfra[validate]==0.3.0' there, or set delivery.bizinfra in the spec"]
    (repo / "requirements-bizinfra.txt").write_text("bizinfra[validate] @ git+https://github.com/a/bizinfra@0a1b2c\n")
    assert main(["doctor", "--repo", str(repo)]) == 1
    assert capsys.readouterr().out == NO_RECEIVERS + "\n"
    assert main(["init", "--repo", str(repo), "--out", str(tmp_path / "other.yaml")]) == 0
    assert "kept requirements-bizinfra.txt" in capsys.readouterr().out  # never overwritten


@pytest.mark.parametrize(("record", "requirement"), [
    (None, "bizinfra[validate]==1.2.3"),  # from an index
    ({"url": "https://github.com/acme/bizinfra", "vcs_info": {"vcs": "git", "commit_id": "0a1b2c"}},
     "bizinfra[validate] @ git+https://github.com/acme/bizinfra@0a1b2c"),
    ({"url": "https://example.com/bizinfra-1.2.3.tar.gz", "archive_info": {}},
     "bizinfra[validate] @ https://example.com/bizinfra-1.2.3.tar.gz"),
    ({"url": "file:///home/me/bizinfra", "dir_info": {"editable": True}}, None),
    ({"url": "ssh://git@github.com/acme/bizinfra", "vcs_info": {"vcs": "git", "commit_id": "0a1b2c"}}, None),
])
def test_init_pins_the_bizinfra_it_runs_where_ci_can_install_it(record: dict[str, Any] | None,
                                                                requirement: str | None) -> None:
    assert bizinfra_requirement(record, "1.2.3") == requirement
    if requirement:
        assert requirement_problem(requirement) is None
        assert requirements_text(requirement).splitlines()[-1] == requirement


def test_init_never_overwrites_a_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mine.yaml"
    out.write_text("name: mine\n")
    assert main(["init", "--repo", str(REPOS / "single-app"), "--out", str(out)]) == 2
    assert "exists; nothing was written" in capsys.readouterr().err
    assert out.read_text() == "name: mine\n"


@pytest.mark.parametrize(("options", "message"), [
    (["--name", "Shop_1"], "--name 'Shop_1': must be lower-case"),
    (["--domain", "localhost"], "--domain 'localhost': must be a lower-case DNS name"),
    (["--repo", "nowhere"], "nowhere: no such folder"),
])
def test_bad_input_writes_nothing(options: list[str], message: str, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "specs" / "x.yaml"
    arguments = ["init", "--repo", str(REPOS / "single-app"), "--out", str(out), *options]
    assert main(arguments) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error
    assert not (tmp_path / "specs").exists()


@pytest.mark.judge  # `validate` runs every judge on PATH over the tree
@pytest.mark.slow
def test_an_inited_spec_generates_a_tree_validate_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "specs" / "business.yaml"
    assert main(["init", "--repo", str(REPOS / "nx-nest"), "--out", str(spec)]) == 0
    assert main(["generate", "--spec", str(spec), "--out", str(tmp_path / "generated")]) == 0
    capsys.readouterr()
    code = main(["validate", "--out", str(tmp_path / "generated")])
    output = capsys.readouterr().out
    assert code == 0, output
