"""What the rule tests share: a platform's generated tree built in memory (`tests.support.bundled_tree` is the
bundled one's), ways to break one fact of it, and the problems a rule reports."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml

from bizinfra.pipeline import build_tree
from bizinfra.render import to_yaml
from bizinfra.spec.loader import Spec
from bizinfra.spec.models import Platform
from bizinfra.validate import rules
from tests.support import SOURCE


def files_of(spec: dict[str, Any] | Platform) -> dict[str, bytes]:
    platform = spec if isinstance(spec, Platform) else Platform.model_validate(spec)
    return build_tree([Spec(SOURCE, platform)]).files


def problems(files: dict[str, bytes], rule: str | None = None) -> list[str]:
    """The problems of one rule (by its name in the summary), or of every rule, as `validate` prints them."""
    if rule is None:
        return [str(problem) for problem in rules.check(files)]
    return sorted(str(p) for platform in rules.platforms(files) for p in rules.RULES[rule](platform))


def edit_yaml(files: dict[str, bytes], path: str, kind: str, name: str,
              change: Callable[[dict[str, Any]], Any]) -> dict[str, bytes]:
    """The tree with one document of one YAML file changed, rendered back."""
    documents = list(yaml.safe_load_all(files[path]))
    for document in documents:
        if document["kind"] == kind and document["metadata"]["name"] == name:
            change(document)
    return {**files, path: "---\n".join(to_yaml(d) for d in documents).encode()}


def edit_json(files: dict[str, bytes], path: str, change: Callable[[dict[str, Any]], Any]) -> dict[str, bytes]:
    """The tree with one JSON file changed."""
    document = json.loads(files[path])
    change(document)
    return {**files, path: json.dumps(document).encode()}


def replace(files: dict[str, bytes], path: str, old: bytes, new: bytes, count: int = 1) -> dict[str, bytes]:
    """The tree with text replaced in one file; the text must be there `count` times, so the edit is the one meant."""
    assert files[path].count(old) == count, (path, old)
    return {**files, path: files[path].replace(old, new)}
