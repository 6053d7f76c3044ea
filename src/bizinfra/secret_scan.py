"""The last look at every rendered byte: nothing that looks like a literal secret leaves bizinfra.

Secrets are references (a Secrets Manager name, `${VAR}`, `${{ secrets.X }}`), never values.
A value in the spec that looks like a credential is refused before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

# Token shapes as their issuers document them (AWS key ids, PEM blocks, GitHub, Slack, Stripe).
_SHAPES = {
    "an AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "a private key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
    "a GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b"),
    "a Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "a Stripe live key": re.compile(r"\b[rs]k_live_[A-Za-z0-9]{16,}"),
    "a password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@$]+:(?!\$)[^/\s@]+@"),
}
# A variable named like a secret, given a value that is not a reference.
_ASSIGNED = re.compile(
    r"\b(?P<name>[A-Z][A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|PRIVATE_KEY|ACCESS_KEY)[A-Z0-9_]*)"
    r"[\"']?\s*[:=]\s*[\"']?(?P<value>[^\"'\s,}\]]*)"
)


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
    for number, line in enumerate(content.decode("utf-8", "replace").splitlines(), start=1):
        for what, shape in _SHAPES.items():
            if shape.search(line):
                yield Finding(path, number, what)
        for match in _ASSIGNED.finditer(line):
            if _is_literal(match["value"]):
                yield Finding(path, number, f"a value for {match['name']}")


def _is_literal(value: str) -> bool:
    return bool(value) and not value.startswith(("$", "{{", "<", "ref+")) and value not in ("true", "false", "null")
