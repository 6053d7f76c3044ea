"""The last look at every rendered byte: nothing that looks like a literal secret leaves bizinfra.

Secrets are references (a Secrets Manager name, `${VAR}`, `${{ secrets.X }}`), never values.
A value in the spec that looks like a credential is refused before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

# Token shapes as their issuers document them (AWS key ids, PEM blocks, GitHub, Slack, Stripe). Each starts
# with literal text and no `\b`, so the regex engine can skip ahead to it: a leading `\b` made each pattern
# try every position of a 30 MB tree.
_SHAPES = {
    "an AWS access key id": re.compile(r"(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])"),
    "a private key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
    "a GitHub token": re.compile(r"gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}"),
    "a Slack token": re.compile(r"xox[abprs]-[A-Za-z0-9-]{10,}"),
    "a Stripe live key": re.compile(r"sk_live_[A-Za-z0-9]{16,}"),  # one literal each: `[rs]k_` made it 10x slower
    "a Stripe restricted key": re.compile(r"rk_live_[A-Za-z0-9]{16,}"),
    "a password in a URL": re.compile(r"://[^/\s:@$]+:(?!\$)[^/\s@]+@"),  # starts at `://`: fast to find
}
# A variable named like a secret, given a value that is not a reference; the word alone is quick to look for first.
_SECRET_WORD = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|PRIVATE_KEY|ACCESS_KEY")
_ASSIGNED = re.compile(
    r"\b(?P<name>[A-Z][A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|PRIVATE_KEY|ACCESS_KEY)[A-Z0-9_]*)"
    r"[\"']?[ \t]*[:=][ \t]*[\"']?(?P<value>[^\"'\s,}\]]*)"
)

_NAME_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    @property
    def message(self) -> str:
        return f"{self.what} would be written in plain text; declare it under the service's secrets"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def scan(files: Mapping[str, bytes]) -> list[Finding]:
    return [finding for path, content in sorted(files.items()) for finding in _scan_text(path, content)]


def _scan_text(path: str, content: bytes) -> Iterator[Finding]:
    """Each pattern runs once over the whole text (a regex per line was most of a large run's time);
    line numbers are counted only for what matched."""
    text = content.decode("utf-8", "replace")
    found: set[tuple[int, str]] = set()
    for what, shape in _SHAPES.items():
        found.update((_line_of(text, match.start()), what) for match in shape.finditer(text))
    for match in _assignments(text):
        if _is_literal(match["value"]):
            found.add((_line_of(text, match.start()), f"a value for {match['name']}"))
    for line, what in sorted(found):
        yield Finding(path, line, what)


def _assignments(text: str) -> Iterator[re.Match[str]]:
    """What `_ASSIGNED.finditer` finds, but tried only where a secret word is: at the start of the
    name around it. The pattern alone tried every position of the text."""
    end = 0
    for word in _SECRET_WORD.finditer(text):
        start = word.start()
        while start > end and text[start - 1] in _NAME_CHARACTERS:
            start -= 1
        match = _ASSIGNED.match(text, start) if start >= end else None
        if match:
            end = match.end()
            yield match


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _is_literal(value: str) -> bool:
    return bool(value) and not value.startswith(("$", "{{", "<", "ref+")) and value not in ("true", "false", "null")
