"""YAML spec files to `Platform` models, with errors a person can act on.

Every problem names the file, line, column and field path, says what was expected, and
all problems of a file are reported together. Only YAML's safe subset is read.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from bizinfra.spec.models import Platform, problems_beside_field_errors
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
        with path.open("rb") as file:
            data = file.read(MAX_CHARACTERS + 1)  # never more: a spec over the bound is refused unread
        if len(data) > MAX_CHARACTERS:
            raise SpecError([Problem(shown, 1, 1, "", f"the file is over {MAX_CHARACTERS} bytes; a spec may be at "
                                     f"most {MAX_CHARACTERS}")])
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SpecError([Problem(shown, 1, 1, "", f"not UTF-8 text ({error.reason} at byte {error.start})")]) from None
    except OSError as error:
        raise SpecError([Problem(shown, 1, 1, "", f"cannot read: {error.strerror}")]) from None
    return parse_spec(text, shown)


def parse_platform(text: str, filename: str) -> Platform:
    """Parse and validate one spec's text; raise `SpecError` listing every problem."""
    return parse_spec(text, filename).platform


def parse_spec(text: str, filename: str) -> Spec:
    if len(text) > MAX_CHARACTERS:
        raise SpecError([Problem(filename, 1, 1, "", f"the file is {len(text)} characters long; a spec may be at "
                                 f"most {MAX_CHARACTERS}")])
    _refuse_control_characters(text, filename)
    reader = _Reader(filename)
    node = reader.document(text)
    marks = _Marks(filename, reader.refusals)
    marks.walk(node, ())
    if marks.problems:
        raise SpecError(marks.problems)
    data = _value(node)
    if not isinstance(data, dict):
        raise SpecError([marks.problem((), f"expected a mapping of keys to values at the top (got {_kind(data)})")])
    try:
        platform = Platform.model_validate(data)
    except ValidationError as error:
        problems = [marks.problem(path, message, key) for path, message, key in _explain(error)]
        if not any(item["type"] == "platform" for item in error.errors()):  # the platform checks never ran
            problems += [marks.problem(path, message) for path, message in problems_beside_field_errors(data)]
        raise SpecError(problems) from None
    from bizinfra.plan.capacity import capacity_problems  # the plan is built from this package's models

    refusals = capacity_problems(platform, filename)
    if refusals:  # a spec that cannot schedule is refused like any other: at the field to change, with the numbers
        raise SpecError([marks.problem(path, message, at_key=True) for path, message in refusals])
    return Spec(filename, platform, {path: (mark.line + 1, mark.column + 1) for path, mark in marks.values.items()})


# -- the YAML subset a spec is written in ---------------------------------------------------------
#
# A spec is plain data: mappings with text keys, lists, and scalars that are text, whole numbers, decimals,
# true/false or null. Everything else YAML can say is refused by name, before any value is built: tags (which
# name constructors), anchors and aliases (which expand: a few hundred bytes can stand for gigabytes), merge
# keys, dates (a date-looking value stays the text written), NaN and infinity, numbers of more than 20 digits,
# control characters, more than one document, nesting deeper than 50, files over 1 MiB.

MAX_CHARACTERS = 1 << 20
MAX_DEPTH = 50
MAX_DIGITS = 20
_STR, _INT, _FLOAT, _BOOL, _NULL = (f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null"))
_MERGE = "tag:yaml.org,2002:merge"
_NOT_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


def _refuse_control_characters(text: str, filename: str) -> None:
    found = _NOT_PRINTABLE.search(text)
    if found:
        line = text.count("\n", 0, found.start()) + 1
        column = found.start() - text.rfind("\n", 0, found.start())
        message = f"control character U+{ord(found.group()):04X} is not allowed in a spec"
        raise SpecError([Problem(filename, line, column, "", message)])


class _Reader:
    """YAML events to a node tree, refusing what a spec does not use before anything is built from it."""

    _resolver = yaml.resolver.Resolver()

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.refusals: dict[yaml.Node, str] = {}  # reported by `_Marks`, which knows each node's path
        self.aliases_seen: set[str] = set()  # each alias is reported where it is first used, not at every use

    def document(self, text: str) -> yaml.Node:
        roots: list[yaml.Node] = []
        open_nodes: list[yaml.Node] = []  # collections not yet closed, outermost first
        children: list[list[yaml.Node]] = []  # their items so far (a mapping's keys and values alternate)
        for event in self._events(text):
            if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                node, items = open_nodes.pop(), children.pop()
                node.end_mark = event.end_mark
                node.value = list(zip(items[0::2], items[1::2], strict=True)) if isinstance(node, yaml.MappingNode) else items
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue
            node = self._node(event)
            (children[-1] if children else roots).append(node)
            if isinstance(node, yaml.CollectionNode):
                if len(open_nodes) >= MAX_DEPTH:
                    raise SpecError([self._problem(event.start_mark, f"nested more than {MAX_DEPTH} levels deep")])
                open_nodes.append(node)
                children.append([])
            if len(roots) > 1:
                second = "one platform per file: found a second YAML document"
                raise SpecError([self._problem(roots[1].start_mark, second)])
        if not roots:
            raise SpecError([Problem(self.filename, 1, 1, "", "the file is empty; a spec needs at least name, "
                                     "domain and services")])
        return roots[0]

    def _events(self, text: str) -> Iterator[yaml.Event]:
        try:
            yield from yaml.parse(text, Loader=SafeLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            started = error.context_mark if error.problem and error.context else None
            where = f" ({error.context} that starts at line {started.line + 1})" if started else ""
            problem = Problem(self.filename, 1, 1, "", f"invalid YAML: {error.problem or error.context}{where}")
            raise SpecError([self._problem(mark, problem.message) if mark else problem]) from None
        except yaml.YAMLError as error:  # the reader's own errors; control characters are refused before
            raise SpecError([Problem(self.filename, 1, 1, "", f"invalid YAML: {type(error).__name__}")]) from None

    def _node(self, event: Any) -> yaml.Node:  # Any: the C parser's events carry its own Mark type
        node: yaml.Node
        start: Any = event.start_mark
        end: Any = event.end_mark
        if isinstance(event, yaml.AliasEvent):
            node = yaml.ScalarNode(_NULL, "", start, end)
            if str(event.anchor) not in self.aliases_seen:
                self.aliases_seen.add(str(event.anchor))
                self.refusals[node] = f"aliases (*{event.anchor}) are not allowed here; write the value out"
            return node
        if isinstance(event, yaml.ScalarEvent):
            node = yaml.ScalarNode(self._scalar_tag(event), event.value, start, end)
        elif isinstance(event, yaml.SequenceStartEvent):
            node = yaml.SequenceNode("tag:yaml.org,2002:seq", [], start, end)
        else:
            node = yaml.MappingNode("tag:yaml.org,2002:map", [], start, end)
        if event.anchor is not None:
            self.refusals[node] = f"anchors (&{event.anchor}) are not allowed here; write the value out"
        if getattr(event, "tag", None) is not None:
            self.refusals[node] = f"tags are not allowed here (got '{event.tag}')"
        return node

    def _scalar_tag(self, event: yaml.ScalarEvent) -> str:
        """What a plain scalar means: str, int, float, bool, null or a merge key, never a date; quoted ones are str."""
        if not event.implicit[0]:
            return _STR
        tag = self._resolver.resolve(yaml.ScalarNode, event.value, (True, False))  # type: ignore[no-untyped-call]
        return tag if tag in (_INT, _FLOAT, _BOOL, _NULL, _MERGE) else _STR

    def _problem(self, mark: Any, message: str) -> Problem:
        return Problem(self.filename, mark.line + 1, mark.column + 1, "", message)


_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_SCALARS: dict[str, Any] = {
    _STR: lambda node: node.value,
    _MERGE: lambda node: node.value,  # '<<' as a value is text; as a key `_Marks` refuses it
    _INT: _CONSTRUCTOR.construct_yaml_int,
    _FLOAT: _CONSTRUCTOR.construct_yaml_float,
    _BOOL: _CONSTRUCTOR.construct_yaml_bool,
    _NULL: _CONSTRUCTOR.construct_yaml_null,
}


def _value(node: yaml.Node) -> Any:
    """The plain data of a node tree `_Marks` found nothing wrong in."""
    if isinstance(node, yaml.MappingNode):
        return {key.value: _value(value) for key, value in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_value(item) for item in node.value]
    return _SCALARS[node.tag](node)


class _Marks:
    """Where each path of the document starts, its key and its value; and what in it a spec may not say."""

    def __init__(self, filename: str, refusals: Mapping[yaml.Node, str]) -> None:
        self.filename = filename
        self.refusals = refusals
        self.keys: dict[PathTuple, yaml.Mark] = {}
        self.values: dict[PathTuple, yaml.Mark] = {}
        self.problems: list[Problem] = []

    def walk(self, node: yaml.Node, path: PathTuple) -> None:
        """Depth is bounded by `_Reader`, and every node is its own (aliases are refused), so this is linear."""
        self.values.setdefault(path, node.start_mark)
        if node in self.refusals:
            self.problems.append(self.problem(path, self.refusals[node], mark=node.start_mark))
        if isinstance(node, yaml.MappingNode):
            first_seen: dict[str, yaml.Mark] = {}
            for key_node, value_node in node.value:
                refusal = _key_refusal(key_node)
                if refusal:
                    self.problems.append(self.problem(path, refusal, mark=key_node.start_mark))
                    continue
                key = key_node.value
                if key in first_seen:
                    self.problems.append(self.problem(
                        path, f"duplicate key '{key}' (first at line {first_seen[key].line + 1})", mark=key_node.start_mark))
                first_seen.setdefault(key, key_node.start_mark)
                self.keys.setdefault((*path, key), key_node.start_mark)
                self.walk(value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.walk(item, (*path, index))
        elif isinstance(node, yaml.ScalarNode):
            refusal = _number_refusal(node)
            if refusal:
                self.problems.append(self.problem(path, refusal, mark=node.start_mark))

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


_ONE_LINE = re.compile(r"[^\x00-\x1F\x7F-\x9F\u2028\u2029]+")


def _key_refusal(key: yaml.Node) -> str | None:
    if not isinstance(key, yaml.ScalarNode):
        return f"a key must be text, not a {'list' if isinstance(key, yaml.SequenceNode) else 'mapping'}"
    if key.tag == _MERGE:
        return "merge keys (<<) are not allowed here; write the keys out"
    if key.tag != _STR:
        return f"a key must be text (got {key.value or 'nothing'}); quote it"
    if not _ONE_LINE.fullmatch(key.value):  # a key is part of every message about its value: one line each
        return f"a key must be one line of printable text (got {_shown(key.value)})"
    return None


def _number_refusal(scalar: yaml.ScalarNode) -> str | None:
    if scalar.tag == _INT:
        digits = sum(character.isdigit() for character in scalar.value)
        if digits > MAX_DIGITS:  # Python refuses to read ints of over 4300 digits; no field needs 21
            return f"a number of {digits} digits; numbers may have at most {MAX_DIGITS}"
    if scalar.tag == _FLOAT and not math.isfinite(_CONSTRUCTOR.construct_yaml_float(scalar)):
        return f"'{scalar.value}' is not a finite number"
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
    r"^(0|[1-9]\d{0,3})(\.(0|[1-9]\d{0,3}))?$": "a version such as '15' or '7.1', without leading zeros",
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
