"""A YAML emitter for JSON-shaped documents (dicts, lists, strings, numbers, booleans, None).

PyYAML's dumper spends most of its time in its representer and event machinery, even with
libyaml; our documents are plain data, so writing block YAML directly is several times faster.
Strings are plain only where both YAML 1.1 (PyYAML) and YAML 1.2 (docker compose, GitHub) read
them back as the same string; multi-line strings become literal blocks, so scripts read as scripts; anything
else is double-quoted with JSON's escapes plus YAML's for the characters JSON leaves raw.
tests/test_yaml_emitter.py proves the round trip: PyYAML's safe loader gives back exactly the
documents. A `Commented` string is written with a trailing comment (`uses: owner/repo@<commit> # v1.2.3`, what
Dependabot and Renovate read); it reads back as the plain string.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any

import yaml

_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()
_PLAIN = re.compile(r"[A-Za-z0-9_./$(][\x20-\x7e]*")
# What YAML 1.2's core schema (Go's yaml.v3 in docker compose, GitHub's parser) reads as something other than a
# string; YAML 1.1's list is PyYAML's resolver. A plain string must be a string under both.
_YAML12_NOT_STRING = re.compile(
    r"null|Null|NULL|~|true|True|TRUE|false|False|FALSE|[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")
_NOT_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")  # raw in JSON, not plain text in YAML
_LITERAL_LINE = re.compile(r"[^\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\t\r]*")


class Commented(str):
    """A string the emitter writes followed by `# comment` on its line; to everything else, the string itself."""

    comment: str

    def __new__(cls, text: str, comment: str) -> Commented:
        if not _COMMENT.fullmatch(comment):
            raise ValueError(f"a YAML comment is one line of printable text: {comment!r}")
        made = super().__new__(cls, text)
        made.comment = comment
        return made

    def __reduce__(self) -> tuple[type[Commented], tuple[str, str]]:  # copy and pickle keep the comment
        return Commented, (str(self), self.comment)


_COMMENT = re.compile(r"[\x20-\x7e]*")


def to_yaml(document: Any) -> str:
    lines: list[str] = []
    if isinstance(document, dict) and document:
        _mapping(document, "", lines)
    elif isinstance(document, list) and document:
        _sequence(document, "", lines)
    else:
        lines.append(_inline(document) + "\n")
    return "".join(lines)


def _mapping(mapping: dict[Any, Any], indent: str, lines: list[str]) -> None:
    for key, value in mapping.items():
        _entry(f"{indent}{_string(key) if type(key) is str else _scalar(key)}:", value, indent, lines)


def _sequence(items: list[Any], indent: str, lines: list[str]) -> None:
    for item in items:
        kind = type(item)
        if (kind is dict or kind is list) and item:
            start = len(lines)
            if kind is dict:
                _mapping(item, indent + "  ", lines)
            else:
                _sequence(item, indent + "  ", lines)
            lines[start] = f"{indent}- {lines[start][len(indent) + 2:]}"  # the first entry shares the dash's line
        else:
            _entry(f"{indent}-", item, indent, lines)


def _entry(lead: str, value: Any, indent: str, lines: list[str]) -> None:
    """`lead` ("key:" or "-") and its value: inline, a literal block, or a nested collection.

    Dispatches on the exact type, strings first: this runs once per key of 30 MB of output."""
    kind = type(value)
    if kind is str:
        if "\n" in value and _literal_ok(value):
            _literal(lead, value, indent + "  ", lines)
        else:
            lines.append(f"{lead} {_string(value)}\n")
    elif kind is dict and value:
        lines.append(lead + "\n")
        _mapping(value, indent + "  ", lines)
    elif kind is list and value:
        lines.append(lead + "\n")
        _sequence(value, indent + "  ", lines)
    elif kind is Commented:
        lines.append(f"{lead} {_string(value)} # {value.comment}\n")
    elif isinstance(value, (dict, list)) and value:  # a subclass: written as the plain collection it is
        _entry(lead, dict(value) if isinstance(value, dict) else list(value), indent, lines)
    else:
        lines.append(f"{lead} {_inline(value)}\n")


def _literal(lead: str, text: str, indent: str, lines: list[str]) -> None:
    body = text.rstrip("\n")
    trailing = len(text) - len(body)
    chomp = "-" if trailing == 0 else "" if trailing == 1 else "+"
    lines.append(f"{lead} |{chomp}\n")
    lines.extend(f"{indent}{line}\n" if line else "\n" for line in body.split("\n"))
    lines.extend("\n" for _ in range(trailing - 1))


def _literal_ok(text: str) -> bool:
    """A literal block reads back as the same string: no leading blank or space-indented first line, no
    trailing spaces on a line, only printable characters."""
    body = text.rstrip("\n")
    return bool(body) and body[0] not in " \n" and all(
        not line.endswith(" ") and _LITERAL_LINE.fullmatch(line) for line in body.split("\n"))


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string(value)
    raise TypeError(f"cannot write a {type(value).__name__} as YAML")


@lru_cache(maxsize=65_536)
def _string(text: str) -> str:
    if _plain_ok(text):
        return text
    quoted = json.dumps(text, ensure_ascii=False)
    return _NOT_PRINTABLE.sub(lambda match: f"\\u{ord(match[0]):04X}", quoted)


def _plain_ok(text: str) -> bool:
    if not _PLAIN.fullmatch(text) or text.endswith((" ", ":")) or ": " in text or " #" in text:
        return False
    if _YAML12_NOT_STRING.fullmatch(text):
        return False
    return bool(_RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR_TAG)  # type: ignore[no-untyped-call]


def _float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)  # the exponent, when there is one, always has its sign, as YAML 1.1 wants
    return text.replace("e", ".0e") if "e" in text and "." not in text else text  # and a dot: 1e-05 -> 1.0e-05
