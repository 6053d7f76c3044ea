"""Every bad spec in tests/bad_specs/ fails with exit 2, its exact message, and no file written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bizinfra.cli import main
from tests.support import tree

BAD_SPECS = Path(__file__).parent / "bad_specs"
CASES = sorted(BAD_SPECS.glob("*.yaml"))


def expectations(spec: Path) -> list[str]:
    return re.findall(r"^# expect: (.*)$", spec.read_text(), flags=re.MULTILINE)


def test_the_corpus_is_large_and_every_case_says_what_it_expects() -> None:
    assert len(CASES) >= 25
    assert all(expectations(case) for case in CASES)


@pytest.mark.parametrize("spec", CASES, ids=[case.stem for case in CASES])
def test_bad_spec_is_refused_with_its_message(spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / spec.name).write_bytes(spec.read_bytes())
    out = tmp_path / "generated"
    out.mkdir()
    (out / "keep.txt").write_text("not ours\n")
    monkeypatch.chdir(tmp_path)

    code = main(["generate", "--spec", f"specs/{spec.name}", "--out", "generated"])

    stderr = capsys.readouterr().err
    assert code == 2
    for expected in expectations(spec):
        assert f"specs/{spec.name}:{expected}" in stderr.splitlines()
    assert "Traceback" not in stderr
    assert tree(out) == {"keep.txt": b"not ours\n"}


def test_all_problems_of_a_file_come_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "shop.yaml"
    spec.write_text(
        "name: shop\n"
        "domain: shop.example.com\n"
        "services:\n"
        "  cart: {port: 0, replicas: {min: 3, max: 1}}\n"
        "  web: {port: 80, resources: {cpu: lots}, prot: 1}\n"
        "monitoring: {error_rate: 0%}\n"
    )
    assert main(["check", "--spec", str(spec), "--out", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(": ", 2)[1] for line in lines[:-1]] == [
        "services.cart.port",
        "services.cart.replicas",
        "services.web.resources.cpu",
        "services.web.prot",
        "monitoring.error_rate",
    ]
    assert lines[-1] == "5 problems in the spec; nothing was written."


def test_text_that_is_not_utf8_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "latin1.yaml"
    spec.write_bytes("name: caf\xe9\n".encode("latin-1"))
    assert main(["generate", "--spec", str(spec), "--out", str(tmp_path / "out")]) == 2
    assert "latin1.yaml:1:1: not UTF-8 text (invalid continuation byte at byte 9)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_two_specs_may_not_share_a_platform_name(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "specs" / "copy.yaml").write_bytes((project / "specs" / "business-app.yaml").read_bytes())
    assert main(["generate"]) == 2
    assert "specs/copy.yaml:1:1: name: platform 'business-app' is also defined in specs/business-app.yaml" in \
        capsys.readouterr().err


def test_field_errors_and_reference_errors_come_in_one_round(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "shop.yaml"
    spec.write_text(
        "name: shop\n"
        "domain: shop.example.com\n"
        "services:\n"
        "  cart: {port: 70000, prot: 1, calls: [chekout]}\n"
        "  checkout: {port: 3001, public: {host: www.example.org}}\n"
        "  web: {port: 3001, replicas: {min: 3, max: 1}}\n"
        "environments:\n"
        "  production: {services: {crt: {replicas: 2}}}\n"
    )
    assert main(["check", "--spec", str(spec), "--out", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(": ", 2)[1] for line in lines[:-1]] == [
        "services.cart.port",
        "services.cart.prot",
        "services.cart.calls[0]",
        "services.checkout.public.host",
        "services.web.port",  # the clash, though web's replicas are wrong too
        "services.web.replicas",
        "environments.production.services.crt",
    ]
