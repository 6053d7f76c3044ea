"""What every rule reads: the generated files of one platform, parsed on first use, and the facts they declare.

Rules read the files as written (after patches), never the spec: `validate` runs them on a committed tree and the
property tests on trees built in memory. The declared facts a rule compares against come from a source other than
the file it judges: the architecture document's services table (each service's port, public host, calls and uses),
the ConfigMaps' `<STORE>_HOST`/`<STORE>_PORT` pairs and the folder names (platform and environment).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from bizinfra.validate.rules.documents import WORKLOADS

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: the rules parse whole trees
ARCHITECTURE = "docs/architecture.md"
# Where the compose target writes: `compose/` for one local environment, `compose/<env>/` for several.
COMPOSE_FILE = re.compile(r"compose/(?:[^/]+/)?docker-compose\.ya?ml")


@dataclass(frozen=True, order=True)
class Problem:
    """One broken guarantee: the file (relative to the output folder), the object in it, and what is wrong."""

    file: str
    object: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.object}: {self.message}"


@dataclass(frozen=True)
class Declared:
    """What the architecture document says of one service."""

    port: int | None  # none: it listens to nothing (a worker without metrics, a cron job)
    public: bool
    calls: frozenset[str]
    uses: frozenset[str]


@dataclass(frozen=True)
class Reaches:
    """What the architecture document says one service reaches outside the platform."""

    hosts: frozenset[tuple[str, int]]
    aws: frozenset[str]
    buckets: frozenset[str]

    @property
    def ports(self) -> frozenset[int]:
        """The ports it may reach outside the private ranges."""
        return frozenset({port for _, port in self.hosts} | ({443} if self.aws or self.buckets else set()))


@dataclass
class PlatformFiles:
    """The generated files of one platform, by path below its folder, parsed on first use."""

    name: str
    files: Mapping[str, bytes]
    _parsed: dict[str, Any] = field(default_factory=dict)

    def text(self, path: str) -> str:
        return self.files[path].decode("utf-8")

    def documents(self, path: str) -> list[Any]:
        """The file's mappings (YAML) or its one value (JSON); a file that does not parse reads as empty, since
        `validate` reports it in its own check."""
        if path not in self._parsed:
            try:
                if path.endswith(".json"):
                    self._parsed[path] = [json.loads(self.files[path])]
                else:
                    self._parsed[path] = [d for d in yaml.load_all(self.files[path], Loader=_Loader) if isinstance(d, dict)]
            except (ValueError, yaml.YAMLError):
                self._parsed[path] = [{}] if path.endswith(".json") else []
        documents: list[Any] = self._parsed[path]
        return documents

    def first(self, path: str) -> dict[str, Any]:
        """The file's first document, or an empty one."""
        found = (self.documents(path) or [{}])[0]
        return found if isinstance(found, dict) else {}

    def where(self, path: str) -> str:
        """A path below the platform as problems show it: below the output folder."""
        return f"{self.name}/{path}"

    def environments(self, target: str) -> list[str]:
        """The environment folders of a per-environment target (`kubernetes`, `terraform`)."""
        return sorted({p.split("/")[1] for p in self.files if p.startswith(f"{target}/") and p.count("/") >= 2})

    def compose_files(self) -> list[str]:
        """Every compose file, wherever the compose target put it."""
        return sorted(path for path in self.files if COMPOSE_FILE.fullmatch(path))

    def objects(self, env: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every Kubernetes object of the environment, with its file."""
        for path in sorted(self.files):
            if path.startswith(f"kubernetes/{env}/") and path.endswith(".yaml") \
                    and not path.endswith("kustomization.yaml"):
                for document in self.documents(path):
                    yield path, document

    def kinds(self, env: str, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [(path, d) for path, d in self.objects(env) if d.get("kind") == kind]

    def workloads(self, env: str) -> list[tuple[str, dict[str, Any]]]:
        """Deployments and Jobs: every object of the environment with a pod template."""
        return [(path, d) for path, d in self.objects(env) if d.get("kind") in WORKLOADS]

    def terraform(self, env: str) -> dict[str, dict[str, Any]]:
        """Terraform resources of the environment's own stack, not of a stack in a folder below it (the standby):
        {type: {label: body}}."""
        merged: dict[str, dict[str, Any]] = {}
        folder = f"terraform/{env}/"
        for path in sorted(self.files):
            if path.startswith(folder) and "/" not in path.removeprefix(folder) and path.endswith(".tf.json"):
                for type_, named in (self.first(path).get("resource") or {}).items():
                    merged.setdefault(type_, {}).update(named)
        return merged

    def declared(self) -> dict[str, Declared]:
        """The services table of docs/architecture.md: `| service | port | public host | health | calls | uses |`."""
        if ARCHITECTURE not in self.files:
            return {}
        table = {}
        for line in self.text(ARCHITECTURE).splitlines():
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if len(cells) == 6 and (cells[1].isdigit() or cells[1] == "-"):
                port = int(cells[1]) if cells[1].isdigit() else None
                table[cells[0]] = Declared(port, cells[2] != "-", _names(cells[4]), _names(cells[5]))
        return table


    def reaches(self) -> dict[str, Reaches]:
        """The "Outside the platform" table of docs/architecture.md: `| service | external hosts | AWS services |
        buckets |`; a service it does not list reaches nothing outside."""
        if ARCHITECTURE not in self.files:
            return {}
        table = {}
        for line in self.text(ARCHITECTURE).splitlines():
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if len(cells) == 4 and cells[0] not in ("service", "---"):
                hosts = frozenset((host, int(port)) for host, _, port in (h.rpartition(":") for h in _names(cells[1]))
                                  if port.isdigit())
                table[cells[0]] = Reaches(hosts, _names(cells[2]), _names(cells[3]))
        return table


def _names(cell: str) -> frozenset[str]:
    return frozenset() if cell == "-" else frozenset(name.strip() for name in cell.split(","))


def without_declarations(p: PlatformFiles) -> list[Problem]:
    """A rule that reads the declared facts cannot pass vacuously when the table that holds them is gone."""
    if not p.environments("kubernetes"):
        return []
    return [Problem(p.where(ARCHITECTURE), "services table", "missing: the ports and edges the spec declares cannot "
                                                             "be read")]


def platforms(files: Mapping[str, bytes]) -> list[PlatformFiles]:
    """The generated tree (paths relative to the output folder) split by platform folder."""
    grouped: dict[str, dict[str, bytes]] = {}
    for path, content in files.items():
        platform, _, rest = path.partition("/")
        if rest:
            grouped.setdefault(platform, {})[rest] = content
    return [PlatformFiles(name, grouped[name]) for name in sorted(grouped)]
