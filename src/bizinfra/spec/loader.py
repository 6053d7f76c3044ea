"""YAML spec files to `Platform` models, with errors a person can act on.

Every problem names the file, line, column and field path, says what was expected, and
all problems of a file are reported together. Only YAML's safe subset is read.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from bizinfra.spec.models import Platform
from bizinfra.spec.text import PathTuple, did_you_mean, dotted

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.message}"


class SpecError(Exception):
    """One or more problems in spec files; `str()` gives one line per problem."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(sorted(problems))
        super().__init__("\n".join(map(str, self.problems)))


@dataclass(frozen=True)
class Spec:
    """A loaded platform, the file it came from (as shown to users) and where each field was written."""

    source: str
    platform: Platform
    positions: Mapping[PathTuple, tuple[int, int]] = field(default_factory=dict)

    def problem(self, path: PathTuple, message: str) -> Problem:
        """A problem found after loading (a patch that does not apply, say), pointed at its field."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.positions:
                return Problem(self.source, *self.positions[path[:end]], dotted(path), message)
        return Problem(self.source, 1, 1, dotted(path), message)


def load_specs(path: Path, shown_as: str | None = None) -> list[Spec]:
    """Every platform in a spec file, or in the `*.yaml`/`*.yml` files of a folder."""
    shown = shown_as or str(path)
    if path.is_dir():
        files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        if not files:
            raise SpecError([Problem(shown, 1, 1, "", "no *.yaml spec files in this folder")])
    elif path.is_file():
        files = [path]
    else:
        raise SpecError([Problem(shown, 1, 1, "", "no such file or folder")])
    specs: list[Spec] = []
    problems: list[Problem] = []
    for file in files:
        shown_file = f"{shown.rstrip('/')}/{file.name}" if path.is_dir() else shown
        try:
            specs.append(load_spec(file, shown_file))
        except SpecError as error:
            problems += error.problems
    problems += _clashing_names(specs)
    if problems:
        raise SpecError(problems)
    return specs


def load_platform(path: Path, shown_as: str | None = None) -> Platform:
    return load_spec(path, shown_as).platform


def load_spec(path: Path, shown_as: str | None = None) -> Spec:
    shown = shown_as or str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise SpecError([Problem(shown, 1, 1, "", f"not UTF-8 text ({error.reason} at byte {error.start})")]) from None
    except OSError as error:
        raise SpecError([Problem(shown, 1, 1, "", f"cannot read: {error.strerror}")]) from None
    return parse_spec(text, shown)


def parse_platform(text: str, filename: str) -> Platform:
    """Parse and validate one spec's text; raise `SpecError` listing every problem."""
    return parse_spec(text, filename).platform


def parse_spec(text: str, filename: str) -> Spec:
    node = _compose(text, filename)
    marks = _Marks(filename)
    marks.walk(node, ())
    if marks.problems:
        raise SpecError(marks.problems)
    data = yaml.constructor.SafeConstructor().construct_document(node)
    if not isinstance(data, dict):
        raise SpecError([marks.problem((), f"expected a mapping of keys to values at the top (got {_kind(data)})")])
    try:
        platform = Platform.model_validate(data)
    except ValidationError as error:
        raise SpecError([marks.problem(path, message, key) for path, message, key in _explain(error)]) from None
    return Spec(filename, platform, {path: (mark.line + 1, mark.column + 1) for path, mark in marks.values.items()})


def _compose(text: str, filename: str) -> yaml.Node:
    try:
        nodes = list(yaml.compose_all(text, Loader=SafeLoader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        started = error.context_mark if error.problem and error.context else None
        where = f" ({error.context} that starts at line {started.line + 1})" if started else ""
        raise SpecError([Problem(filename, line, column, "", f"invalid YAML: {error.problem or error.context}{where}")]) from None
    except yaml.YAMLError as error:
        raise SpecError([Problem(filename, 1, 1, "", f"invalid YAML: {error}")]) from None
    if not nodes:
        raise SpecError([Problem(filename, 1, 1, "", "the file is empty; a spec needs at least name, domain and services")])
    if len(nodes) > 1:
        mark = nodes[1].start_mark
        second = "one platform per file: found a second YAML document"
        raise SpecError([Problem(filename, mark.line + 1, mark.column + 1, "", second)])
    return nodes[0]


class _Marks:
    """Where each path of the document starts: its key and its value."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.keys: dict[PathTuple, yaml.Mark] = {}
        self.values: dict[PathTuple, yaml.Mark] = {}
        self.problems: list[Problem] = []

    def walk(self, node: yaml.Node, path: PathTuple, depth: int = 0) -> None:
        self.values.setdefault(path, node.start_mark)
        if depth > 50:
            return
        if isinstance(node, yaml.MappingNode):
            first_seen: dict[str, yaml.Mark] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in first_seen and key != "<<":
                    self.problems.append(self.problem(
                        path, f"duplicate key '{key}' (first at line {first_seen[key].line + 1})", mark=key_node.start_mark))
                first_seen.setdefault(key, key_node.start_mark)
                self.keys.setdefault((*path, key), key_node.start_mark)
                self.walk(value_node, (*path, key), depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.walk(item, (*path, index), depth + 1)

    def problem(self, path: PathTuple, message: str, at_key: bool = False, mark: yaml.Mark | None = None) -> Problem:
        if mark is None:
            mark = self._nearest(path, at_key)
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return Problem(self.filename, line, column, dotted(path), message)

    def _nearest(self, path: PathTuple, at_key: bool) -> yaml.Mark | None:
        if at_key and path in self.keys:
            return self.keys[path]
        if path in self.values:
            return self.values[path]
        for end in range(len(path) - 1, -1, -1):  # a missing field: point at its parent's key
            prefix = path[:end]
            if prefix in self.keys:
                return self.keys[prefix]
            if prefix in self.values:
                return self.values[prefix]
        return None


# -- turning pydantic's errors into sentences -------------------------------------------

_PATTERNS = {
    r"^[a-z]([-a-z0-9]*[a-z0-9])?$": "a name of lower-case letters, digits and '-', starting with a letter",
    r"^[A-Z_][A-Z0-9_]*$": "an environment variable name of upper-case letters, digits and '_'",
    r"^/[A-Za-z0-9._~/-]*$": "an HTTP path starting with '/'",
    r"^[a-z]{2}(-gov)?-[a-z]+-\d$": "an AWS region such as ap-south-1",
    r"^[a-z][a-z0-9-]*\.[a-z0-9]+$": "an EC2 instance type such as t3.medium",
    r"^db\.[a-z0-9-]+\.[a-z0-9]+$": "an RDS instance class such as db.t3.medium",
    r"^cache\.[a-z0-9-]+\.[a-z0-9]+$": "an ElastiCache node type such as cache.t3.medium",
    r"^\d+(\.\d+)?$": "a version such as '15' or '7.1' (quote it)",
    r"^[a-z_][a-z0-9_]{0,62}$": "a database name of lower-case letters, digits and '_'",
    r"^[A-Z][A-Z0-9_]*$": "a prefix of upper-case letters, digits and '_'",
    r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$": "a lower-case DNS name such as api.example.com",
    r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$": "a git branch name such as main or release/1.0",
}

_TYPES = {
    "int_type": "a whole number",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
    "list_type": "a list",
    "tuple_type": "a list",
    "float_type": "a number",
}


def _explain(error: ValidationError) -> Iterator[tuple[PathTuple, str, bool]]:
    """(path, message, points at the key) for every error pydantic found."""
    items = error.errors(include_url=False)
    failed_items = {tuple(item["loc"]) for item in items}
    for item in items:
        kind, path, ctx = item["type"], tuple(item["loc"]), item.get("ctx") or {}
        if kind == "too_short" and any(loc[: len(path)] == path and loc != path for loc in failed_items):
            continue  # a list left empty only because its items failed: those errors say more
        if kind == "platform":
            for problem_path, message in ctx["problems"]:
                yield tuple(problem_path), message, False
        elif kind == "extra_forbidden":
            known = _field_names(path[:-1])
            yield path, f"unknown key '{path[-1]}'{did_you_mean(str(path[-1]), known)}", True
        elif kind == "missing":
            yield path, "is required", True
        elif path and path[-1] == "[key]":  # a mapping key itself is wrong
            yield path[:-1], _sentence(kind, item["msg"], ctx, item.get("input")), True
        else:
            yield path, _sentence(kind, item["msg"], ctx, item.get("input")), False


def _sentence(kind: str, message: str, ctx: dict[str, Any], given: Any) -> str:
    got = f" (got {_shown(given)})"
    if kind == "string_type" and isinstance(given, (int, float, bool)):
        return f"expected a string{got}; quote it"
    if kind in _TYPES:
        return f"expected {_TYPES[kind]}{got}"
    if kind == "string_pattern_mismatch":
        return f"expected {_PATTERNS.get(ctx.get('pattern', ''), 'text matching ' + str(ctx.get('pattern')))}{got}"
    if kind == "literal_error":
        return f"must be {ctx['expected']}{got}"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters (got {len(given)})"
    if kind == "too_short":
        return "must not be empty"
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        return f"{message.replace('Input should be', 'must be')}{got}"
    return message.removeprefix("Value error, ")


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    text = repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    return _shown(value) if isinstance(value, (dict, list)) or value is None else f"the value {_shown(value)}"


def _field_names(path: PathTuple) -> list[str]:
    """The keys allowed in the mapping at `path`, for 'did you mean' hints."""
    model: Any = Platform
    for part in path:
        if isinstance(model, _DictOf):  # this part is a key of a dict of models
            model = model.model
        elif isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(str(part))
            model = _inner_model(field.annotation) if field else None
        if model is None:
            return []
    return list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is dict:
        return _DictOf(_inner_model(typing.get_args(annotation)[1]))
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _inner_model(arg)
            if found is not None:
                return found
    return None


class _DictOf:
    """Stands for `dict[str, Model]` while walking a path: the next part is a key."""

    def __init__(self, model: Any) -> None:
        self.model = model


def _clashing_names(specs: list[Spec]) -> list[Problem]:
    seen: dict[str, str] = {}
    problems = []
    for spec in specs:
        name = spec.platform.name
        if name in seen:
            problems.append(Problem(spec.source, 1, 1, "name", f"platform '{name}' is also defined in {seen[name]}"))
        seen.setdefault(name, spec.source)
    return problems
