"""The smallest pieces of a workflow: a document, and a step that runs a script."""

from __future__ import annotations

from typing import Any

Document = dict[str, Any]


def script(name: str, run: str, env: dict[str, str] | None = None, **extra: Any) -> Document:
    return {"name": name, **extra, **({"env": env} if env else {}), "run": run}
