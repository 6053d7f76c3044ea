"""The cluster the stand-ins share: a JSON file in $STAND_IN_STATE, every call logged, and a failure on demand.

`calls.log` holds one line per call (`kubectl apply ...`); `KUBECTL_FAIL_AT=N` makes the N-th kubectl call fail.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

Object = dict[str, Any]


def folder() -> Path:
    return Path(os.environ["STAND_IN_STATE"])


def log(tool: str, args: list[str]) -> int:
    """Record the call; the number of this tool's calls so far, this one included."""
    with (folder() / "calls.log").open("a") as calls:
        calls.write(" ".join([tool, *args]) + "\n")
    lines = (folder() / "calls.log").read_text().splitlines()
    return sum(1 for line in lines if line.split(" ", 1)[0] == tool)


def load() -> Object:
    path = folder() / "cluster.json"
    return json.loads(path.read_text()) if path.exists() else {"objects": {}, "crds": []}


def save(cluster: Object) -> None:
    (folder() / "cluster.json").write_text(json.dumps(cluster, indent=1, sort_keys=True))


def key(document: Object) -> str:
    meta = document["metadata"]
    return f"{document['kind']}/{meta.get('namespace', '')}/{meta['name']}"


def fail(message: str, code: int = 1) -> None:
    sys.stderr.write(f"error: {message}\n")
    raise SystemExit(code)
