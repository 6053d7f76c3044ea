"""Helm releases in generated Terraform, judged against the charts they install, offline.

No chart can be installed here, so each `helm_release`'s values are checked against the chart's own files at the
pinned version, vendored under `data/reference/charts/<chart>-<version>/`:

- its `values.schema.json`, where the chart publishes one, validates the values Helm would use (the chart's
  defaults with the release's values merged over them, as `helm install` validates them);
- its `values.yaml`: every key the release sets must be a key there, down to where the chart leaves a value
  free-form (an empty map, a null or an empty list), so a typo cannot pass as a new setting.

A chart that publishes no schema is "not checkable" against one, and said so; its keys are still checked.
A release whose chart version has no vendored files fails: a version bump must bring its chart's files.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import yaml

CHARTS = resources.files("bizinfra") / "data" / "reference" / "charts"
# Maps whose keys are free though values.yaml shows a few: the chart passes each key through as it is, so only the
# program it runs can judge them (cluster-autoscaler: every key of extraArgs becomes a `--key=value` flag;
# kube-prometheus-stack: alertmanager.config is Alertmanager's own configuration, which amtool judges).
OPEN_MAPS = {"cluster-autoscaler": {"extraArgs"}, "kube-prometheus-stack": {"alertmanager.config"}}
_INTERPOLATION = re.compile(r"(?<!\$)\$\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")


@dataclass(frozen=True)
class Release:
    """One helm_release block: where it is, the chart and version it installs, and its values as Helm reads them."""

    where: str  # `file: helm_release.label`
    chart: str
    version: str
    values: dict[str, Any]


@dataclass(frozen=True)
class ChartFiles:
    defaults: dict[str, Any]  # values.yaml
    schema: dict[str, Any] | None  # values.schema.json; None: the chart publishes none


def releases(files: Mapping[str, Mapping[str, Any]]) -> Iterator[Release]:
    """Every helm_release of one configuration, in file and label order."""
    for file, document in sorted(files.items()):
        for label, body in sorted(((document.get("resource") or {}).get("helm_release") or {}).items()):
            values: dict[str, Any] = {}
            for text in body.get("values") or []:
                values = merged(values, decode_values(text))
            yield Release(f"{file}: helm_release.{label}", str(body.get("chart")), str(body.get("version")), values)


def decode_values(text: str) -> dict[str, Any]:
    """A values string as Helm gets it: each `${...}` Terraform fills in stands as the text `<terraform: ...>`
    (every interpolation the generator writes is a whole string value), and Terraform's escapes are undone."""
    plain = _INTERPOLATION.sub(lambda match: f"<terraform: {match[1]}>", text)
    document = yaml.safe_load(plain.replace("$${", "${").replace("%%{", "%{"))
    if not isinstance(document, dict):
        raise ValueError("a release's values must be a map")
    return document


@cache
def chart_files(chart: str, version: str) -> ChartFiles | None:
    folder = CHARTS / f"{chart}-{version}"
    if not folder.is_dir():
        return None
    plain, packed = folder / "values.yaml", folder / "values.yaml.gz"
    text = plain.read_text() if plain.is_file() else gzip.decompress(packed.read_bytes()).decode()
    schema = folder / "values.schema.json"
    return ChartFiles(yaml.safe_load(text) or {}, json.loads(schema.read_text()) if schema.is_file() else None)


def check_release(release: Release) -> list[str]:
    files = chart_files(release.chart, release.version)
    if files is None:
        return [f"{release.where}: no vendored values for chart {release.chart} {release.version} "
                f"(data/reference/charts/{release.chart}-{release.version}/)"]
    problems = [f"{release.where}: values.{path}: not a key of {release.chart} {release.version}'s values.yaml{hint}"
                for path, hint in unknown_keys(release.values, files.defaults, "", OPEN_MAPS.get(release.chart, ()))]
    if files.schema is not None:
        validator = jsonschema.validators.validator_for(files.schema)(files.schema)
        for error in sorted(validator.iter_errors(merged(files.defaults, release.values)), key=lambda e: str(e.path)):
            path = ".".join(map(str, error.absolute_path)) or "(root)"
            problems.append(f"{release.where}: values.{path}: {error.message} ({release.chart} values.schema.json)")
    return problems


def unknown_keys(values: Any, defaults: Any, path: str, open_maps: Collection[str] = ()) -> Iterator[tuple[str, str]]:
    """Keys set where the chart's values.yaml has a map of named settings and no such key, as (path, hint)."""
    if path in open_maps:
        return
    if isinstance(values, dict) and isinstance(defaults, dict) and defaults:
        for key, value in values.items():
            here = f"{path}.{key}" if path else str(key)
            if key in defaults:
                yield from unknown_keys(value, defaults[key], here, open_maps)
            else:
                close = get_close_matches(str(key), [str(k) for k in defaults], n=1)
                yield here, f"; did you mean {close[0]}?" if close else ""
    elif isinstance(values, list) and isinstance(defaults, list):
        examples = [item for item in defaults if isinstance(item, dict)]
        shape = {key: value for item in examples for key, value in item.items()}
        for index, item in enumerate(values):
            yield from unknown_keys(item, shape, f"{path}[{index}]", open_maps)


def merged(base: Any, override: Any) -> Any:
    """Helm's coalescing of values: maps merge key by key, anything else is replaced; a null removes the key."""
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return override
    result = dict(base)
    for key, value in override.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merged(base.get(key), value)
    return result


def schemaless(found: list[Release]) -> list[str]:
    """`chart version` of each release whose chart publishes no values.schema.json: not checkable against one."""
    return sorted({f"{r.chart} {r.version}" for r in found
                   if (files := chart_files(r.chart, r.version)) is not None and files.schema is None})
