"""amtool's view of the generated Alertmanager configuration, offline: `check-config`, and `config routes test` for
each case of `alertmanager.routes.yml` (the receivers each alert must reach).

The configuration targets the Alertmanager kube-prometheus-stack runs; a receiver field newer than the amtool at hand
(data/reference/alertmanager/newer-fields.json: the webhook's `url_file`, Alertmanager 0.26) is checked as the plain
field it replaced (`url`, with a stand-in address), and the judge's note says so: the rest is checked as written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

STAND_IN_URL = "https://read-from-file.invalid/"  # where a `*_file` field stood, for an amtool that predates it
Runner = Callable[[list[str]], tuple[int, str]]


def newer_fields() -> dict[str, dict[str, str]]:
    """{configs key: {field: the Alertmanager release that added it}}."""
    text = (resources.files("bizinfra") / "data" / "reference" / "alertmanager" / "newer-fields.json").read_text()
    return {key: value for key, value in json.loads(text).items() if not key.startswith("//")}


def version_of(output: str) -> tuple[int, ...]:
    """`amtool, version 0.25.0 (branch: ...)` -> (0, 25, 0); unknown: (0,)."""
    found = re.search(r"version (\d+)\.(\d+)\.(\d+)", output)
    return tuple(int(part) for part in found.groups()) if found else (0,)


def release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def readable_by(config: dict[str, Any], version: tuple[int, ...]) -> tuple[dict[str, Any], list[str]]:
    """The configuration as an amtool of `version` can read it, and the fields it reads otherwise."""
    replaced = []
    for receiver in config.get("receivers") or []:
        for key, fields in newer_fields().items():
            for item in receiver.get(key) or []:
                for field, since in fields.items():
                    if field in item and version < release(since):
                        item.pop(field)
                        item[field.removesuffix("_file")] = STAND_IN_URL
                        replaced.append(f"{key.removesuffix('_configs')} {field} (Alertmanager {since})")
    return config, sorted(set(replaced))


def check(executable: str, config_path: Path, routes_path: Path | None, run: Runner, shown: str,
          scratch: Path) -> tuple[list[str], list[str]]:
    """Problems (`<shown>: amtool ...: what`) and the fields read as older ones, for one alertmanager.yml."""
    version = version_of(run([executable, "--version"])[1])
    config, replaced = readable_by(yaml.safe_load(config_path.read_text()) or {}, version)
    checked = scratch / "alertmanager.yml"
    checked.write_text(yaml.safe_dump(config, sort_keys=False))
    code, output = run([executable, "check-config", str(checked)])
    if code != 0:
        # `Checking '<file>'  FAILED: <why>`, continued on indented lines; then amtool's own summary line
        lines = [line.split("FAILED:", 1)[-1].strip() for line in output.splitlines()
                 if line.strip() and not line.startswith("amtool: error: failed to validate")]
        return [f"{shown}: amtool check-config: {line}" for line in lines or [f"exited {code}"]], replaced
    problems = []
    for case in route_cases(routes_path) if routes_path else []:
        expected = ",".join(case["receivers"])
        labels = [f"{name}={value}" for name, value in case["labels"].items()]
        code, output = run([executable, "config", "routes", "test", f"--config.file={checked}",
                            f"--verify.receivers={expected}", *labels])
        if code != 0:
            got = next((line.strip() for line in output.splitlines()
                        if line.strip() and not line.startswith(("WARNING", "Warning"))), "nothing")
            problems.append(f"{shown}: amtool config routes test: {case['labels'].get('alertname')} "
                            f"({case['labels'].get('severity')}) reaches {got}, expected {expected}")
    return problems, replaced


def route_cases(path: Path) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = (yaml.safe_load(path.read_text()) or {}).get("tests") or []
    return cases
