"""The escape hatch: JSON-patch style edits to generated documents, applied after compilation.

Users always need one field bizinfra does not model. A patch names a generated file (and, in a
file of several YAML documents, one document by kind and name) and lists operations in the
style of RFC 6902: add, replace, remove. A patch that does not apply is an error, never
silently dropped.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any, Literal

from pydantic import Field, JsonValue, StrictStr, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from bizinfra.spec.base import Frozen

Pointer = Annotated[StrictStr, StringConstraints(pattern=r"^(/([^~/]|~[01])*)+$")]
GeneratedPath = Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")]


class Operation(Frozen):
    op: Literal["add", "replace", "remove"]
    path: Pointer = Field(description="A JSON pointer into the document, e.g. /spec/template/spec/priorityClassName.")
    value: JsonValue = Field(None, description="The value to add or replace with.")

    @model_validator(mode="before")
    @classmethod
    def _value_given(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("op") in ("add", "replace") and "value" not in data:
            raise PydanticCustomError("patch_value", "'{op}' needs a value", {"op": data["op"]})
        return data


class Select(Frozen):
    kind: StrictStr
    name: StrictStr


class Patch(Frozen):
    file: GeneratedPath = Field(description="The generated file, relative to the platform's output folder, "
                                "e.g. kubernetes/production/deployments.yaml.")
    select: Select | None = Field(None, description="In a file of several YAML documents, which one: kind and name.")
    ops: tuple[Operation, ...] = Field(min_length=1)


class PatchError(Exception):
    """A patch that does not apply; `field` is where in the patch, relative to it."""

    def __init__(self, field: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.field = field


def apply_operations(document: Any, operations: tuple[Operation, ...]) -> Any:
    """A patched copy of the document; raises PatchError naming the first operation that fails."""
    patched = copy.deepcopy(document)
    for index, operation in enumerate(operations):
        try:
            patched = _apply(patched, operation)
        except _Missing as missing:
            raise PatchError(("ops", index, "path"), f"{operation.path} does not exist ({missing})") from None
    return patched


class _Missing(Exception):
    pass


def _apply(document: Any, operation: Operation) -> Any:
    *parents, last = [_unescape(token) for token in operation.path.split("/")[1:]]
    container = document
    for depth, token in enumerate(parents):
        container = _child(container, token, "/" + "/".join(parents[: depth + 1]))
    value = copy.deepcopy(operation.value)
    if isinstance(container, list):
        index = _index(container, last, allow_end=operation.op == "add")
        if operation.op == "add":
            container.insert(index, value)
        elif operation.op == "replace":
            container[index] = value
        else:
            del container[index]
    elif isinstance(container, dict):
        if operation.op != "add" and last not in container:
            raise _Missing(f"no key '{last}'")
        if operation.op == "remove":
            del container[last]
        else:
            container[last] = value
    else:
        raise _Missing("its parent is not an object or a list")
    return document


def _child(container: Any, token: str, where: str) -> Any:
    if isinstance(container, dict):
        if token not in container:
            raise _Missing(f"{where} is not there")
        return container[token]
    if isinstance(container, list):
        return container[_index(container, token, allow_end=False)]
    raise _Missing(f"{where} is not an object or a list")


def _index(items: list[Any], token: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(items)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise _Missing(f"'{token}' is not a list index")
    index = int(token)
    if index > len(items) or (index == len(items) and not allow_end):
        raise _Missing(f"index {index} is past the end of a list of {len(items)}")
    return index


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")
