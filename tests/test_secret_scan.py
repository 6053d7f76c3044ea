"""No literal secret leaves bizinfra: the scan of every rendered byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bizinfra.cli import main
from bizinfra.secret_scan import _ASSIGNED, _assignments, scan

SPEC = "name: shop\ndomain: shop.example.com\nservices:\n  cart:\n    port: 3000\n    env: {{{env}}}\n"


@pytest.mark.parametrize(("env", "what"), [
    ("API_TOKEN: abcd1234", "a value for API_TOKEN"),
    ("UPSTREAM: 'postgres://app:hunter2@db:5432/app'", "a password in a URL"),
    ("SOME_ID: AKIAIOSFODNN7EXAMPLE", "an AWS access key id"),
    ("HOOK: xoxb-1234567890-abcdefghij", "a Slack token"),
    ("CI_KEY: ghp_" + "a" * 36, "a GitHub token"),
    ("BILLING: sk_live_" + "a1" * 8, "a Stripe live key"),
    ("BILLING: rk_live_" + "a1" * 8, "a Stripe restricted key"),
])
def test_a_literal_secret_in_the_spec_is_refused_before_anything_is_written(
        env: str, what: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "shop.yaml"
    spec.write_text(SPEC.format(env=env))
    assert main(["generate", "--spec", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "shop/kubernetes/production/configmaps.yaml:" in err
    assert f": {what} would be written in plain text; declare it under the service's secrets" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("line", [
    "DB_PASSWORD: ${DB_PASSWORD}",
    "JWT_SECRET: ${{ secrets.JWT_SECRET }}",
    "- secretKey: JWT_SECRET",
    "JWT_SECRET=",
    '"manage_master_user_password": true',
    "url: postgres://${DB_USERNAME}:${DB_PASSWORD}@postgres:5432/app",
])
def test_references_are_not_secrets(line: str) -> None:
    assert scan({"f.yaml": line.encode()}) == []


def test_a_finding_names_the_file_and_line() -> None:
    [finding] = scan({"a/b.env": b"X=1\nREDIS_PASSWORD=hunter2\n"})
    assert str(finding) == ("a/b.env:2: a value for REDIS_PASSWORD would be written in plain text; "
                            "declare it under the service's secrets")


def test_an_empty_value_does_not_borrow_the_next_line() -> None:
    assert scan({".env.example": b"DB_PASSWORD=\nNEXT=hunter2\nREDIS_PASSWORD:\n  nested: x\n"}) == []


_PIECES = ["A", "B", "_", "9", "x", "é", " ", "\t", "\n", "=", ":", '"', "'", ",", "}", "$", "{",
           "PASSWORD", "TOKEN", "SECRET", "API_KEY", "DB_", "hunter2"]


@given(st.lists(st.sampled_from(_PIECES), max_size=16).map("".join))
@example("A_PASSWORD=$PASSWORDTOKEN=x")  # a name inside the previous assignment's value
@example("xDB_TOKEN=1 _DB_TOKEN=2 9DB_TOKEN=3 DB_TOKEN=4")  # a name starts at a word boundary, with a letter
def test_assignments_are_found_only_near_secret_words_yet_exactly_as_the_pattern_finds_them(text: str) -> None:
    assert [m.span() for m in _assignments(text)] == [m.span() for m in _ASSIGNED.finditer(text)]
