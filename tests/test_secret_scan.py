"""No literal secret leaves bizinfra: the scan of every rendered byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bizinfra.cli import main
from bizinfra.pipeline import build_files, secret_problems
from bizinfra.secret_scan import _ASSIGNED, Finding, _assignments, scan
from bizinfra.spec.loader import load_specs

ROOT = Path(__file__).resolve().parent.parent
SPEC = "name: shop\ndomain: shop.example.com\nservices:\n  cart:\n    port: 3000\n    env: {{{env}}}\n"
GOOGLE_KEY = "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"[:35]
SLACK_HOOK = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


@pytest.mark.parametrize(("env", "what"), [
    ("API_TOKEN: abcd1234", "a value for API_TOKEN"),
    ("UPSTREAM: 'postgres://app:hunter2@db:5432/app'", "a password in a URL"),
    ("SOME_ID: AKIAIOSFODNN7EXAMPLE", "an AWS access key id"),
    ("HOOK: xoxb-1234567890-abcdefghij", "a Slack token"),
    ("CI_KEY: ghp_" + "a" * 36, "a GitHub token"),
    ("BILLING: sk_live_" + "a1" * 8, "a Stripe secret key"),
    ("BILLING: rk_live_" + "a1" * 8, "a Stripe restricted key"),
    # the shapes a reviewer would also catch
    ("APP_SECRET: $ecretP4ss", "a value for APP_SECRET"),  # `$` and then no variable name: a literal
    ("ADMIN_PASSWORD_HASH: '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy'",
     "a value for ADMIN_PASSWORD_HASH"),  # a bcrypt hash, cracked offline
    ("SMTP_PASS: hunter2", "a value for SMTP_PASS"),
    ("PWD: hunter2", "a value for PWD"),
    ("GCP_CREDENTIALS: eyJ0eXBlIjoic2VydmljZV9hY2NvdW50In0", "a value for GCP_CREDENTIALS"),
    (f"ALERTS: {SLACK_HOOK}", "a Slack webhook"),
    (f"MAPS: {GOOGLE_KEY}", "a Google API key"),
    ("BILLING: sk_test_" + "a1" * 8, "a Stripe secret key"),
    ("BILLING: rk_test_" + "a1" * 8, "a Stripe restricted key"),
])
def test_a_literal_secret_in_the_spec_is_refused_at_its_spec_line_before_anything_is_written(
        env: str, what: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "shop.yaml"
    spec.write_text(SPEC.format(env=env))
    assert main(["generate", "--spec", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.splitlines()
    name, value = env.split(": ", 1)
    column = SPEC.format(env=env).splitlines()[5].index(value) + 1
    assert f"shop.yaml:6:{column}: services.cart.env.{name}: {what} would be written in plain text to " \
           "shop/compose/docker-compose.yml; declare it under the service's secrets" in err
    assert err[-1] == "1 problem in the spec; nothing was written."  # once, though every environment has it
    assert not (tmp_path / "out").exists()


def test_a_secret_a_patch_adds_is_reported_at_the_patch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "shop.yaml"
    spec.write_text(SPEC.format(env="") + "patches:\n  - file: kubernetes/production/configmaps.yaml\n"
                    "    select: {kind: ConfigMap, name: cart-config}\n"
                    "    ops: [{op: add, path: /data/JWT_SECRET, value: hunter2}]\n")
    assert main(["generate", "--spec", str(spec), "--out", str(tmp_path / "out")]) == 2
    assert "shop.yaml:10:52: patches[0].ops[0].value: a value for JWT_SECRET would be written in plain text to " \
           "shop/kubernetes/production/configmaps.yaml; declare it under the service's secrets" in \
           capsys.readouterr().err.splitlines()


def test_a_secret_no_spec_value_holds_is_reported_in_the_generated_file() -> None:
    [spec] = load_specs(ROOT / "specs" / "business-app.yaml")
    findings = [Finding("business-app/compose/.env.example", line, "a value for JWT_SECRET", "hunter2") for line in (3, 4)]
    assert [str(problem) for problem in secret_problems([spec], findings)] == [
        f"business-app/compose/.env.example:{line}:1: a value for JWT_SECRET would be written in plain text; "
        "declare it under the service's secrets" for line in (3, 4)]


@pytest.mark.parametrize(("text", "what"), [
    ("SECRET=$ecretP4ss", "a value for SECRET"),
    ('"app_password_hash": "x", "ADMIN_PASSWORD": "$2b$10$abc"', "a value for ADMIN_PASSWORD"),
    ("SECRET=$$ecretP4ss", "a value for SECRET"),  # compose's escape of `$`
    ("SECRET=$lower_case", "a value for SECRET"),
    ("SECRET=$1234", "a value for SECRET"),
    ("url: postgres://app:$ecret@db/app", "a password in a URL"),
    ("url: postgres://app:$$ecret@db/app", "a password in a URL"),
    ("MAIL_PASS=hunter2", "a value for MAIL_PASS"),
    ('"PWD": "hunter2"', "a value for PWD"),
    ("DB_PWD: hunter2", "a value for DB_PWD"),
    ("AWS_CREDENTIALS_JSON=abc", "a value for AWS_CREDENTIALS_JSON"),
    (f"url: {SLACK_HOOK}", "a Slack webhook"),
    (f"key={GOOGLE_KEY}", "a Google API key"),
    ("k: sk_test_" + "x" * 24, "a Stripe secret key"),
    ("k: rk_test_" + "x" * 24, "a Stripe restricted key"),
])
def test_a_literal_secret_is_found(text: str, what: str) -> None:
    assert [finding.what for finding in scan({"f": text.encode()})] == [what]


@pytest.mark.parametrize("line", [
    "DB_PASSWORD: ${DB_PASSWORD}",
    "JWT_SECRET: ${{ secrets.JWT_SECRET }}",
    "- secretKey: JWT_SECRET",
    "JWT_SECRET=",
    '"manage_master_user_password": true',
    "url: postgres://${DB_USERNAME}:${DB_PASSWORD}@postgres:5432/app",
    "url: postgres://app:$DB_PASSWORD@postgres:5432/app",
    "url: postgres://app:$${DB_PASSWORD}@postgres:5432/app",  # a spec's `${...}`, as compose writes it
    "REDIS_PASSWORD: ${CACHE_PASSWORD:?set it in .env}",
    "DB_PASSWORD=$DB_PASSWORD",
    "DB_PASSWORD=$POSTGRES_PASSWORD/x",
    'PGPASSWORD="$(jq -r .password <<<"$secret")" \\',  # a shell command's output
    "- pw=$(APP_PASSWORD)",  # Kubernetes' reference to another env var
    "JWT_SECRET: $${JWT_SECRET}",  # compose's escape of `$`: a reference, written as text
    'docker run -v "$PWD:/src" app',  # the shell reading PWD, not setting it
    "cd ${PWD:-.}",
    "SSL_PASSTHROUGH=on",  # `_PASS` is a secret word only at the end of the name
    "PWD_URL: http://pwd:8080",  # where a service named like a secret word is: an address, no credentials
    "PASSWORD_RESET_URL=https://password-reset:3000/v1",
    "PWD000_BUCKET: shop-production-pwd000",  # the name of a bucket called like a secret word (`storage: {pwd000}`)
])
def test_references_are_not_secrets(line: str) -> None:
    assert scan({"f.yaml": line.encode()}) == []


def test_the_bundled_specs_generate_without_findings() -> None:
    assert scan(build_files(load_specs(ROOT / "specs"))) == []


def test_a_finding_names_the_file_and_line() -> None:
    [finding] = scan({"a/b.env": b"X=1\nREDIS_PASSWORD=hunter2\n"})
    assert str(finding) == ("a/b.env:2: a value for REDIS_PASSWORD would be written in plain text; "
                            "declare it under the service's secrets")
    assert finding.text == "hunter2"


def test_an_empty_value_does_not_borrow_the_next_line() -> None:
    assert scan({".env.example": b"DB_PASSWORD=\nNEXT=hunter2\nREDIS_PASSWORD:\n  nested: x\n"}) == []


_PIECES = ["A", "B", "_", "9", "x", "é", " ", "\t", "\n", "=", ":", '"', "'", ",", "}", "$", "{",
           "PASSWORD", "TOKEN", "SECRET", "API_KEY", "DB_", "hunter2", "_PASS", "PWD", "CREDENTIALS"]


@given(st.lists(st.sampled_from(_PIECES), max_size=16).map("".join))
@example("A_PASSWORD=$PASSWORDTOKEN=x")  # a name inside the previous assignment's value
@example("xDB_TOKEN=1 _DB_TOKEN=2 9DB_TOKEN=3 DB_TOKEN=4")  # a name starts at a word boundary, with a letter
@example("$PWD=1 A$PWD=2 A_PASS_B=3 A_PASS=4")  # read, not set; `_PASS` ends the name
def test_assignments_are_found_only_near_secret_words_yet_exactly_as_the_pattern_finds_them(text: str) -> None:
    assert [m.span() for m in _assignments(text)] == [m.span() for m in _ASSIGNED.finditer(text)]
