"""What a target produces: files as data, before they become bytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Format = Literal["yaml", "json", "text"]


@dataclass(frozen=True)
class Artifact:
    """One generated file. `path` is relative to the platform's output folder.

    yaml: `documents` are the YAML documents, in order; json: exactly one document;
    text: one string; `comment` is how its header line is written, `{}` standing for the note.
    `environment` is the environment the file belongs to, None for platform-wide files;
    `target` is filled in by `compile_plan`.
    """

    path: str
    documents: tuple[Any, ...]
    format: Format = "yaml"
    comment: str = "# {}"
    environment: str | None = None
    target: str = ""


@dataclass(frozen=True)
class Owner:
    """Which target made a generated file, for which environment (None: platform-wide)."""

    target: str
    environment: str | None


def yaml_file(path: str, *documents: Any, environment: str | None = None) -> Artifact:
    return Artifact(path, documents, "yaml", environment=environment)


def json_file(path: str, document: Any, environment: str | None = None) -> Artifact:
    return Artifact(path, (document,), "json", environment=environment)


def text_file(path: str, text: str, comment: str = "# {}", environment: str | None = None) -> Artifact:
    return Artifact(path, (text,), "text", comment, environment=environment)
