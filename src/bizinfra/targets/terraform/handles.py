"""Typed handles for Terraform blocks: one value declares a block and every reference to it reads from the same
value, so a reference cannot name something never declared by a typo in an address string."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Resource:
    """A resource block, `<type>.<name>`."""

    type: str
    name: str
    section: ClassVar[str] = "resource"

    @property
    def address(self) -> str:
        return f"{self.type}.{self.name}"

    def ref(self, path: str = "") -> str:
        """An interpolation of an attribute (`arn`), an index or splat (`[*].id`), or the block itself (no path)."""
        joint = "." if path and not path.startswith("[") else ""
        return "${" + self.address + joint + path + "}"

    def declare(self, body: dict[str, Any]) -> dict[str, Any]:
        return {self.section: {self.type: {self.name: body}}}


@dataclass(frozen=True)
class Data(Resource):
    """A data source, `data.<type>.<name>`."""

    section: ClassVar[str] = "data"

    @property
    def address(self) -> str:
        return f"data.{self.type}.{self.name}"
