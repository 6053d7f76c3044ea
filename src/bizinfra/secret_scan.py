"""The last look at every rendered byte: nothing that looks like a literal secret leaves bizinfra.

Secrets are references (a Secrets Manager name, `${VAR}`, `${{ secrets.X }}`), never values.
A value in the spec that looks like a credential is refused before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

# Token shapes as their issuers document them (AWS key ids, PEM blocks, GitHub, Slack, Google, Stripe). Each starts
# with literal text and no `\b`, so the regex engine can skip ahead to it: a leading `\b` made each pattern
# try every position of a 30 MB tree.
_SHAPES = {
    "an AWS access key id": re.compile(r"(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])"),
    "a private key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
    "a GitHub token": re.compile(r"gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}"),
    "a Slack token": re.compile(r"xox[abprs]-[A-Za-z0-9-]{10,}"),
    "a Slack webhook": re.compile(r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+"),
    "a Google API key": re.compile(r"AIza[0-9A-Za-z_-]{35}"),
    # live and test mode (a test key still reads the account's test data); one literal each: `[rs]k_` made it 10x slower
    "a Stripe secret key": re.compile(r"sk_(?:live|test)_[A-Za-z0-9]{16,}"),
    "a Stripe restricted key": re.compile(r"rk_(?:live|test)_[A-Za-z0-9]{16,}"),
    # starts at `://`: fast to find; a password that is a reference (see _REFERENCE; `$$` is compose's `$`) is none
    "a password in a URL": re.compile(r"://[^/\s:@$]+:(?!\$?\$(?:[{(]|[A-Z_][A-Z0-9_]*(?![A-Za-z0-9_])))[^/\s@]+@"),
}
# A variable named like a secret, given a value that is not a reference; the word alone is quick to look for first.
# The name may be the word alone (`PWD`); `_PASS` only ends one (SSL_PASSTHROUGH is no secret). A name right after
# `$` or `${` is read, not set: `"$PWD:/src"`, `${PWD:-.}`.
_SECRET_WORD = re.compile(r"PASS|PWD|SECRET|TOKEN|API_KEY|APIKEY|PRIVATE_KEY|ACCESS_KEY|CREDENTIALS")  # PASS: all three
_ASSIGNED = re.compile(
    r"(?<!\$)(?<!\$\{)\b(?P<name>[A-Z][A-Z0-9_]*_PASS|(?:[A-Z][A-Z0-9_]*)?"
    r"(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|PRIVATE_KEY|ACCESS_KEY|CREDENTIALS|PWD)[A-Z0-9_]*)"
    r"[\"']?[ \t]*[:=][ \t]*[\"']?(?P<value>[^\"'\s,}\]]*)"
)
# What a generated file may hold where a secret's value would be: `${VAR}` and `${{ secrets.X }}`, a command's or
# Kubernetes' `$(...)`, and a shell `$VAR` whose name is upper case, as bizinfra's scripts name their variables.
# `$ecretP4ss` or a bcrypt hash `$2b$10$...` is a literal.
_REFERENCE = re.compile(r"\$(?:[{(]|[A-Z_][A-Z0-9_]*(?![A-Za-z0-9_]))|\{\{|<|ref\+")

_ADVICE = "declare it under the service's secrets"
_NAME_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str
    text: str  # what matched: the value, or the token; the pipeline looks for it among the spec's values

    @property
    def message(self) -> str:
        return f"{self.what} would be written in plain text; {_ADVICE}"

    @property
    def message_naming_the_file(self) -> str:
        """For a problem pointed at the spec value the secret came from."""
        return f"{self.what} would be written in plain text to {self.path}; {_ADVICE}"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def scan(files: Mapping[str, bytes]) -> list[Finding]:
    return [finding for path, content in sorted(files.items()) for finding in _scan_text(path, content)]


def _scan_text(path: str, content: bytes) -> Iterator[Finding]:
    """Each pattern runs once over the whole text (a regex per line was most of a large run's time);
    line numbers are counted only for what matched."""
    text = content.decode("utf-8", "replace")
    found: dict[tuple[int, str], str] = {}
    for what, shape in _SHAPES.items():
        for match in shape.finditer(text):
            found.setdefault((_line_of(text, match.start()), what), match[0])
    for match in _assignments(text):
        # `<NAME>_BUCKET` is the variable bizinfra gives a bucket's name (a bucket called `passwords` is no secret)
        if _is_literal(match["value"]) and not match["name"].endswith("_BUCKET"):
            found.setdefault((_line_of(text, match.start()), f"a value for {match['name']}"), match["value"])
    for (line, what), matched in sorted(found.items()):
        yield Finding(path, line, what, matched)


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


# An address with no user or password in it (`http://pwd-service:8080`): what a `PWD_SERVICE_URL` holds. An address
# that carries a password is caught by the URL shape above.
_PLAIN_ADDRESS = re.compile(r"[a-z][a-z0-9+.-]*://[^/@\s]+(?:/\S*)?")


def _is_literal(value: str) -> bool:
    if value.startswith("$$"):  # compose's escape of `$`: `$${VAR}` reaches the container as the text `${VAR}`
        value = value[1:]
    return (bool(value) and not _REFERENCE.match(value) and value not in ("true", "false", "null")
            and not _PLAIN_ADDRESS.fullmatch(value))
