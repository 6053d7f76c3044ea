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
    """

    path: str
    documents: tuple[Any, ...]
    format: Format = "yaml"
    comment: str = "# {}"


def yaml_file(path: str, *documents: Any) -> Artifact:
    return Artifact(path, documents, "yaml")


def json_file(path: str, document: Any) -> Artifact:
    return Artifact(path, (document,), "json")


def text_file(path: str, text: str, comment: str = "# {}") -> Artifact:
    return Artifact(path, (text,), "text", comment)
