"""The loader never crashes: any text gives exit 2 with `file:line:col`, in bounded time and memory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bizinfra.cli import main
from bizinfra.spec import text
from bizinfra.spec.loader import SpecError, load_spec, parse_spec

REST = "domain: shop.example.com\nservices:\n  web:\n    port: 8080\n"
SHOP = "name: shop\n" + REST

# (spec text, the line expected on stderr after the file name)
HOSTILE = {
    "impossible date": ("name: 2024-13-01\n" + REST,
                        "1:7: name: expected a name of lower-case letters, digits and '-', starting with a letter "
                        "(got '2024-13-01')"),
    "number as key": (SHOP + "  1: {port: 9}\n", "6:3: services: a key must be text (got 1); quote it"),
    "list as key": (SHOP + "  [a, b]: {port: 9}\n", "6:3: services: a key must be text, not a list"),
    "mapping as key": (SHOP + "  {a: 1}: {port: 9}\n", "6:3: services: a key must be text, not a mapping"),
    "merge key": (SHOP + "  api:\n    <<: {port: 9}\n",
                  "7:5: services.api: merge keys (<<) are not allowed here; write the keys out"),
    "local tag": ("name: !env SHOP\n" + REST, "1:7: name: tags are not allowed here (got '!env')"),
    "binary tag": ("name: !!binary aGVsbG8=\n" + REST,
                   "1:7: name: tags are not allowed here (got 'tag:yaml.org,2002:binary')"),
    "python tag": ("name: !!python/name:os.system\n" + REST,
                   "1:7: name: tags are not allowed here (got 'tag:yaml.org,2002:python/name:os.system')"),
    "tag on a mapping": (SHOP + "monitoring: !!map {availability: 99}\n",
                         "6:13: monitoring: tags are not allowed here (got 'tag:yaml.org,2002:map')"),
    "not a number": (SHOP + "monitoring: {availability: .nan}\n",
                     "6:28: monitoring.availability: '.nan' is not a finite number"),
    "infinity": (SHOP + "monitoring: {availability: -.inf}\n",
                 "6:28: monitoring.availability: '-.inf' is not a finite number"),
    "nan as text": (SHOP + "monitoring: {availability: 'nan'}\n",
                    "6:28: monitoring.availability: 'nan' is not a percentage; expected e.g. 5% or 99.9"),
    "huge integer": (SHOP.replace("8080", "9" * 5000),
                     "5:11: services.web.port: a number of 5000 digits; numbers may have at most 20"),
    "huge quantity": (SHOP + "    resources: {memory: " + "9" * 5000 + "Mi}\n", None),
    "control character": ("name: shop\ndomain: shop.example.com\x07\n" + REST[25:],
                          "2:25: control character U+0007 is not allowed in a spec"),
    "newline in a key": (SHOP + "    env: {\"A\\nB\": x}\n",
                         "6:11: services.web.env: a key must be one line of printable text (got 'A\\nB')"),
    "anchor and alias": (SHOP + "  api: &base {port: 9}\n  admin: *base\n",
                         "6:8: services.api: anchors (&base) are not allowed here; write the value out"),
}


@pytest.mark.parametrize("spec, expected", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_yaml_is_refused_at_its_line(spec: str, expected: str | None, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("shop.yaml").write_text(spec)
    code = main(["generate", "--spec", "shop.yaml", "--out", "out"])
    stderr = capsys.readouterr().err
    assert code == 2, stderr
    assert "Traceback" not in stderr and "<unicode string>" not in stderr
    assert all(re.match(r"shop.yaml:\d+:\d+: ", line) for line in stderr.splitlines()[:-1]), stderr
    if expected:
        assert f"shop.yaml:{expected}" in stderr.splitlines()
    assert not Path("out").exists()


def test_a_date_like_value_stays_the_text_written() -> None:
    spec = parse_spec(SHOP + "    env: {RELEASED: 2024-12-01, AT: 2024-12-01 10:00:00}\n", "shop.yaml")
    assert spec.platform.services["web"].env == {"RELEASED": "2024-12-01", "AT": "2024-12-01 10:00:00"}


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
    bomb = "\n".join(lines) + "\n" + SHOP  # 5**11 * 10 strings once expanded: seconds and gigabytes
    assert len(bomb) < 700
    with pytest.raises(SpecError, match=r"aliases \(\*a0\) are not allowed here") as error:
        parse_spec(bomb, "bomb.yaml")
    assert len(error.value.problems) == 2 * 12 - 1  # each anchor, and each alias where first used: no expansion


def test_nesting_is_bounded() -> None:
    deep = SHOP + "monitoring: " + "[" * 60 + "]" * 60 + "\n"
    with pytest.raises(SpecError, match=r"bomb.yaml:6:\d+: nested more than 50 levels deep"):
        parse_spec(deep, "bomb.yaml")
    with pytest.raises(SpecError, match=r"bomb.yaml:6:\d+: .*nest"):  # libyaml's own bound may come first
        parse_spec(SHOP + "x: " + "[" * 100_000, "bomb.yaml")


def test_the_file_size_is_bounded() -> None:
    big = SHOP + "# " + "x" * (1 << 20) + "\n"
    with pytest.raises(SpecError, match=r"big.yaml:1:1: the file is 1048\d+ characters long; a spec may be at most "
                                        r"1048576"):
        parse_spec(big, "big.yaml")


def test_two_thousand_bad_references_are_hinted_with_bounded_work(monkeypatch: pytest.MonkeyPatch) -> None:
    comparisons = 0
    real = text.difflib.SequenceMatcher

    class Counting(real):  # type: ignore[misc, valid-type]
        def set_seq1(self, a: str) -> None:
            nonlocal comparisons
            comparisons += 1
            super().set_seq1(a)

    monkeypatch.setattr(text.difflib, "SequenceMatcher", Counting)
    services = "".join(f"  service-{i}: {{port: {2000 + i}, calls: [srvice-{(i + 1) % 2000}]}}\n"
                       for i in range(2000))
    with pytest.raises(SpecError) as error:
        parse_spec("name: shop\ndomain: shop.example.com\nservices:\n" + services, "big.yaml")
    assert len(error.value.problems) == 2000
    assert "no service named 'srvice-1'; did you mean 'service-1'?" in str(error.value)
    assert comparisons <= 2000 * (1 + 16), "each hint compares the word with a bounded number of names"


def test_a_file_over_the_bound_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as file:
        file.write(SHOP.encode())
        file.truncate(64 << 20)  # 64 MiB of zeros, sparse on disk
    with pytest.raises(SpecError, match=r"big.yaml:1:1: the file is over 1048576 bytes; a spec may be at most 1048576"):
        load_spec(big)
