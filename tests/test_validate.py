"""`bizinfra validate`: every judge over the tree on disk, one line per problem, and "not run" never passing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bizinfra.cli import main
from bizinfra.validate import tree as validate_tree
from tests.support import ROOT, SPECS, require_tool

TOOLS = ("kubernetes-validate", "promtool", "amtool", "actionlint", "shellcheck", "docker-compose", "hadolint")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled specs generated once, as `bizinfra generate` writes them; tests work on copies."""
    out = tmp_path_factory.mktemp("generated")
    assert main(["generate", "--spec", str(SPECS), "--out", str(out)]) == 0
    return out


def copy_of(generated: Path, tmp_path: Path) -> Path:
    out = tmp_path / "generated"
    shutil.copytree(generated, out)
    return out


def run_validate(out: Path, capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, list[str], list[str]]:
    """Exit code, problem lines, and summary lines (those the summary indents, and the totals)."""
    code = main(["validate", "--out", str(out), *options])
    lines = capsys.readouterr().out.splitlines()
    total = next(i for i, line in enumerate(lines) if line.startswith("  "))
    return code, lines[:total], lines[total:]


def replace(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


def line_of(path: Path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_the_bundled_specs_pass_every_validator_with_every_tool(generated: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    for tool in TOOLS:
        require_tool(tool)
    code, problems, summary = run_validate(generated, capsys, "--require-all")
    assert problems == []
    assert code == 0
    assert not [line for line in summary if line.startswith(("  not run", "  failed"))]
    assert summary[-1].endswith(" 0 not run")


@pytest.mark.judge  # `validate` runs every judge it finds on PATH over the broken tree
def test_each_deliberate_breakage_is_one_clear_line(generated: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Five broken files in one tree, one validate run: each is caught, with its file, object and problem."""
    out = copy_of(generated, tmp_path)
    app = out / "business-app"
    # a port changed in one file
    replace(app / "kubernetes/production/workloads.yaml", "containerPort: 3001", "containerPort: 3009")
    # an extra NetworkPolicy edge: auth-service may now call business-service
    policies = app / "kubernetes/staging/network-policies.yaml"
    header, _, body = policies.read_text().partition("\n")
    documents = list(yaml.safe_load_all(body))
    policy = next(d for d in documents if d["metadata"]["name"] == "auth-service-traffic")
    policy["spec"]["egress"].append({"to": [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "business-service", "app.kubernetes.io/part-of": "business-app"}}}],
        "ports": [{"protocol": "TCP", "port": 3002}]})
    policies.write_text(header + "\n" + yaml.safe_dump_all(documents, sort_keys=False))
    # a literal password where a reference belongs
    compose = app / "compose/docker-compose.yml"
    replace(compose, 'JWT_SECRET: "${JWT_SECRET:?set JWT_SECRET in .env: run ./make-env.sh}"',
            "JWT_SECRET: correct-horse-battery")
    # a dangling Terraform reference
    replace(app / "terraform/production/secrets.tf.json", "${aws_kms_key.main.arn}", "${aws_kms_key.secrets.arn}")
    # a workflow naming a Deployment that does not exist
    replace(app / "github/workflows/ci-cd.yml", "DEPLOYMENT: auth-service\n", "DEPLOYMENT: auth\n")

    code, problems, summary = run_validate(out, capsys)

    assert code == 1
    where = "business-app/terraform/production/secrets.tf.json: aws_secretsmanager_secret.secret_jwt_secret: " \
            "${aws_kms_key.secrets.arn}: no resource aws_kms_key.secrets is declared"
    assert problems == sorted([
        "business-app/kubernetes/production/workloads.yaml: Deployment/auth-service-blue: container "
        "auth-service port is 3009, but auth-service's port is 3001",
        "business-app/kubernetes/staging/network-policies.yaml: NetworkPolicy/auth-service-traffic: allows egress "
        "auth-service -> business-service:3002, which the spec does not declare",
        f"business-app/compose/docker-compose.yml: line {line_of(compose, 'correct-horse')}: a value for JWT_SECRET "
        "would be written in plain text; declare it under the service's secrets",
        "business-app/compose/docker-compose.yml: service auth-service: JWT_SECRET must be a ${VAR} reference "
        "(Kubernetes reads it from Secrets Manager), got a value",
        f"{where} (aws 5.100.0)",
        f"{where} (aws 6.47.0)",
        "business-app/github/workflows/ci-cd.yml: job deploy-staging: Deployment auth is not in kubernetes/staging",
    ], key=problems.index)
    failed = sorted(line.split(None, 1)[1].split(" (")[0] for line in summary if line.startswith("  failed"))
    assert failed == ["AWS provider schemas and Terraform references", "invariant: names agree across targets",
                      "invariant: network edges match the declared ones", "invariant: no literal secrets",
                      "invariant: ports agree", "invariant: secrets are references"]


def test_tool_output_names_the_file_relative_to_the_tree(generated: Path, tmp_path: Path) -> None:
    out = copy_of(generated, tmp_path)
    require_tool("hadolint")
    replace(out / "shop/docker/Dockerfile", "USER 10001:10001", "USER root")
    check = validate_tree.hadolint(validate_tree.read_tree(out))
    assert check.status == "failed" and check.note == "3 Dockerfiles"  # one per platform, each docker/Dockerfile
    assert check.problems and all(p.startswith("shop/docker/Dockerfile: line ") for p in check.problems), \
        check.problems
    require_tool("promtool")
    rules = out / "shop/monitoring/production/rules.yml"
    replace(rules, "expr: ", "expr: sum(", 1)
    shop = validate_tree.read_tree(out)
    check = validate_tree.promtool(validate_tree.Tree(out, {k: v for k, v in shop.files.items() if k.startswith("shop/")}))
    assert check.status == "failed"
    assert check.problems[0].startswith("shop/monitoring/production/rules.yml: promtool check rules: "), check.problems


SMALL_SPEC = """\
name: tiny
domain: tiny.example.com
services:
  web: {port: 8080, public: {host: www.tiny.example.com}, calls: [api]}
  api: {port: 8081, uses: [cache], secrets: [API_TOKEN]}
datastores:
  cache: {engine: redis, version: "7"}
environments:
  development: {runs_on: compose}
  production: {nodes: {min: 2, max: 4}}
"""


def test_a_missing_tool_is_not_run_never_passed_and_fails_only_with_require_all(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tiny.yaml").write_text(SMALL_SPEC)
    assert main(["generate", "--spec", str(tmp_path / "tiny.yaml"), "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    monkeypatch.setattr(validate_tree, "_tool", lambda name: None)

    code, problems, summary = run_validate(tmp_path / "out", capsys)
    assert (code, problems) == (0, [])
    not_run = [line for line in summary if line.startswith("  not run")]
    assert not_run == [
        "  not run  kubernetes-validate --strict and the CRD schemas (kubernetes-validate is not installed)",
        "  not run  promtool check rules, test rules, check config (promtool is not installed)",
        "  not run  amtool check-config, config routes test (amtool is not installed)",
        "  not run  actionlint (with shellcheck) (actionlint is not installed)",
        "  not run  docker-compose config -q (docker-compose is not installed)",
        "  not run  hadolint (hadolint is not installed)",
        "  not run  shellcheck (shellcheck is not installed)",
    ]
    assert summary[-1] == "0 problems; checks: 13 passed, 0 failed, 7 not run"

    assert run_validate(tmp_path / "out", capsys, "--require-all")[0] == 1


def test_a_file_that_does_not_parse_is_one_line_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tiny.yaml").write_text(SMALL_SPEC)
    assert main(["generate", "--spec", str(tmp_path / "tiny.yaml"), "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    monkeypatch.setattr(validate_tree, "_tool", lambda name: None)
    broken = tmp_path / "out/tiny/kubernetes/production/configmaps.yaml"
    broken.write_text(broken.read_text() + "data: [unclosed\n")
    terraform = tmp_path / "out/tiny/terraform/production/main.tf.json"
    terraform.write_text(terraform.read_text()[:-3])

    code, problems, _ = run_validate(tmp_path / "out", capsys)

    assert code == 1
    assert [line.split(": does not parse")[0] for line in problems if "does not parse" in line] == [
        "tiny/kubernetes/production/configmaps.yaml: (file)", "tiny/terraform/production/main.tf.json: (file)"]


@pytest.mark.parametrize("arguments", [["validate", "--out", "nowhere"], ["validate", "--bogus"]])
def test_bad_usage_exits_2_without_a_traceback(arguments: list[str], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = subprocess.run([sys.executable, "-m", "bizinfra", *arguments], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    if "nowhere" in arguments:
        assert result.stderr == "bizinfra validate: nowhere holds no generated files; run `python -m bizinfra generate`\n"


BLOCK_JSONSCHEMA = """
import sys
class Missing:  # as on a core install, without the validate extra
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "jsonschema":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Missing())
from bizinfra.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_validate_without_its_extra_says_what_to_install(tmp_path: Path) -> None:
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "a.yaml").write_text("a: 1\n")
    result = subprocess.run([sys.executable, "-c", BLOCK_JSONSCHEMA, "validate", "--out", "generated"], cwd=tmp_path,
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
                            check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "jsonschema is not installed" in result.stderr and "pip install 'bizinfra[validate]'" in result.stderr


def test_generate_and_check_do_not_load_the_validators() -> None:
    """validate's imports (jsonschema, the provider schemas, the rules) stay out of `generate`'s start-up."""
    probe = ("import sys; from bizinfra.cli import main; main(['check', '--spec', sys.argv[1], '--out', sys.argv[2]]);"
             "print(sorted(m for m in sys.modules if m.startswith(('bizinfra.validate',"
             " 'jsonschema'))))")
    result = subprocess.run([sys.executable, "-c", probe, str(SPECS), str(ROOT / "nonexistent")], capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, check=False)
    assert result.stdout.splitlines()[-1] == "[]", result.stdout + result.stderr


def test_the_pre_commit_hook_runs_validate_on_the_committed_tree() -> None:
    hooks = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert hooks["bizinfra-validate"]["entry"] == "python -m bizinfra validate"
    assert hooks["bizinfra-validate"]["pass_filenames"] is False
    assert json.dumps(sorted(hooks)) == '["bizinfra-check", "bizinfra-validate"]'
