"""The JSON Schema of the spec language, for editors (kept at schema/bizinfra.schema.json)."""

from __future__ import annotations

from typing import Any

from bizinfra.spec.models import Platform


def json_schema() -> dict[str, Any]:
    schema = Platform.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
