"""The guarantees that span targets, as named rules over the generated files of one platform.

Each rule reads the files as written (after patches), never the spec: `validate` runs them on a committed tree and
the property tests on trees built in memory. The declared facts a rule compares against come from a source other
than the file it judges: the architecture document's table (each service's port, public host, calls and uses), the
ConfigMaps' `<STORE>_HOST`/`<STORE>_PORT` pairs (which data store a service uses, on which port) and the folder
names (platform and environment).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from bizinfra.secret_scan import scan

MANAGED_BY = "bizinfra"
NAME, PART_OF = "app.kubernetes.io/name", "app.kubernetes.io/part-of"
MONITORING_NAMESPACE = "monitoring"
WORKLOADS = ("Deployment", "Job")  # the kinds whose pod templates run containers
BOOTSTRAP_COMPONENT = "database-bootstrap"  # the component label of a PostgreSQL store's bootstrap Job
# The peers a database bootstrap Job may reach besides its store and DNS: HTTPS outside the VPC (the RDS and
# Secrets Manager APIs) and the node's EKS Pod Identity agent.
AWS_APIS, POD_IDENTITY_AGENT = "aws-apis", "pod-identity-agent"
POD_IDENTITY_ADDRESS = "169.254.170.23/32"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: the rules parse whole trees
_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[?-][^}]*)?\}$")
_URL_PORT = re.compile(r"^https?://[^/:]+:(\d+)")
_ROLE_ARN = re.compile(r"^arn:aws:iam::[^:]*:role/(.+)$")
_SCRIPT_CLUSTER = re.compile(r'^\s*cluster="([^"$]+)"', re.MULTILINE)
CI_CD, DOCKERFILE = "github/workflows/ci-cd.yml", "docker/Dockerfile"
_TF_ADDRESS = re.compile(r"^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.[a-z_]+\}$")


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

    port: int
    public: bool
    calls: frozenset[str]
    uses: frozenset[str]


@dataclass
class PlatformFiles:
    """The generated files of one platform, by path below its folder, parsed on first use."""

    name: str
    files: Mapping[str, bytes]
    _parsed: dict[str, Any] = field(default_factory=dict)

    def text(self, path: str) -> str:
        return self.files[path].decode("utf-8")

    def documents(self, path: str) -> list[Any]:
        if path not in self._parsed:
            try:
                if path.endswith(".json"):
                    self._parsed[path] = [json.loads(self.files[path])]
                else:
                    self._parsed[path] = [d for d in yaml.load_all(self.files[path], Loader=_Loader) if isinstance(d, dict)]
            except (ValueError, yaml.YAMLError):  # `validate` reports the file that does not parse; rules skip it
                self._parsed[path] = [{}] if path.endswith(".json") else []
        documents: list[Any] = self._parsed[path]
        return documents

    def where(self, path: str) -> str:
        return f"{self.name}/{path}"

    def environments(self, target: str) -> list[str]:
        return sorted({p.split("/")[1] for p in self.files if p.startswith(f"{target}/") and p.count("/") >= 2})

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

    def bootstraps(self, env: str) -> dict[str, tuple[str, int]]:
        """The database bootstrap Jobs, by name: the store each connects to (PGHOST's first label) and its port."""
        found = {}
        for _, job in self.kinds(env, "Job"):
            if (_meta(job).get("labels") or {}).get("app.kubernetes.io/component") != BOOTSTRAP_COMPONENT:
                continue
            for container in _containers(job):
                values = _env_values(container)
                port = _int(values.get("PGPORT"))
                if "PGHOST" in values and port is not None:
                    found[str(_meta(job).get("name"))] = (str(values["PGHOST"]).split(".")[0], port)
        return found

    def terraform(self, env: str) -> dict[str, dict[str, Any]]:
        """Terraform resources of the environment: {type: {label: body}}."""
        merged: dict[str, dict[str, Any]] = {}
        for path in sorted(self.files):
            if path.startswith(f"terraform/{env}/") and path.endswith(".tf.json"):
                for type_, named in (self.documents(path)[0].get("resource") or {}).items():
                    merged.setdefault(type_, {}).update(named)
        return merged

    def declared(self) -> dict[str, Declared]:
        """The services table of docs/architecture.md: `| service | port | public host | health | calls | uses |`."""
        path = "docs/architecture.md"
        if path not in self.files:
            return {}
        table = {}
        for line in self.text(path).splitlines():
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if len(cells) == 6 and cells[1].isdigit():
                table[cells[0]] = Declared(int(cells[1]), cells[2] != "-", _names(cells[4]), _names(cells[5]))
        return table


def _without_declarations(p: PlatformFiles) -> list[Problem]:
    """A rule that reads the declared facts cannot pass vacuously when the table that holds them is gone."""
    if not p.environments("kubernetes"):
        return []
    return [Problem(p.where("docs/architecture.md"), "services table", "missing: the ports and edges the spec "
                                                                       "declares cannot be read")]


def _names(cell: str) -> frozenset[str]:
    return frozenset() if cell == "-" else frozenset(name.strip() for name in cell.split(","))


def name_of(document: Mapping[str, Any]) -> str:
    return f"{document.get('kind')}/{(document.get('metadata') or {}).get('name')}"


def _meta(document: Mapping[str, Any]) -> dict[str, Any]:
    meta = document.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _pod(deployment: Mapping[str, Any]) -> dict[str, Any]:
    return ((deployment.get("spec") or {}).get("template") or {})


def _containers(deployment: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((_pod(deployment).get("spec") or {}).get("containers") or [])


def _all_containers(workload: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = _pod(workload).get("spec") or {}
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def _env_values(container: Mapping[str, Any]) -> dict[str, Any]:
    """A container's plain `env` values by name (those set from a Secret or ConfigMap are left out)."""
    return {item.get("name"): item.get("value") for item in container.get("env") or [] if "value" in item}


def _service_of(document: Mapping[str, Any]) -> str | None:
    """The bizinfra service an object belongs to, by its name label."""
    value = (_meta(document).get("labels") or {}).get(NAME)
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# -- ports ---------------------------------------------------------------------------------------------------------


def ports_agree(p: PlatformFiles) -> list[Problem]:
    """A service's port, as the architecture document declares it, is the port of its Kubernetes Service (port and
    targetPort), its Deployments' container port, probes and `prometheus.io/port` annotation, its ConfigMap's PORT,
    the shared ConfigMap's `<SERVICE>_PORT` and `<SERVICE>_URL`, its NetworkPolicy rules (its own ingress and every
    caller's egress to it), the Ingress backend, the compose service (published port, PORT, health check, PORT build
    argument), the CI build matrix's PORT build argument, and, for a public service, the security group rules between
    the load balancer and the nodes (and no other port there). The one Dockerfile every service builds from takes its
    port from the PORT build argument, so it must write none of its own."""
    declared = p.declared()
    if not declared:
        return _without_declarations(p)
    problems: list[Problem] = []

    def expect(file: str, obj: str, service: str, what: str, value: Any) -> None:
        if service in declared and _int(value) != declared[service].port:
            problems.append(Problem(p.where(file), obj, f"{what} is {value}, but {service}'s port is "
                                                        f"{declared[service].port}"))

    for env in p.environments("kubernetes"):
        for file, document in p.objects(env):
            _kubernetes_ports(file, document, expect)
        _security_group_ports(p, env, declared, problems)
    if "compose/docker-compose.yml" in p.files:
        _compose_ports(p, expect)
    if CI_CD in p.files:
        _build_matrix_ports(p, expect)
    if DOCKERFILE in p.files:
        problems += [Problem(p.where(DOCKERFILE), f"line {line}", f"{what} hard-codes port {port}; every "
                                                                  "service's port comes from the PORT build argument")
                     for line, what, port in _dockerfile_ports(p.text(DOCKERFILE))]
    return problems


Expect = Callable[[str, str, str, str, Any], None]


def _kubernetes_ports(file: str, document: dict[str, Any], expect: Expect) -> None:
    kind, obj, service = document.get("kind"), name_of(document), _service_of(document)
    spec = document.get("spec") or {}
    if kind == "Service" and service:
        for port in spec.get("ports") or []:
            expect(file, obj, service, "port", port.get("port"))
            expect(file, obj, service, "targetPort", port.get("targetPort"))
    elif kind == "Deployment" and service:
        annotation = (_meta(_pod(document)).get("annotations") or {}).get("prometheus.io/port")
        if annotation is not None:
            expect(file, obj, service, "annotation prometheus.io/port", annotation)
        for container in _containers(document):
            for port in container.get("ports") or []:
                expect(file, obj, service, f"container {container.get('name')} port", port.get("containerPort"))
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                check = (container.get(probe) or {}).get("httpGet")
                if check:
                    expect(file, obj, service, f"{probe} port", check.get("port"))
    elif kind == "ConfigMap":
        data = document.get("data") or {}
        if service and "PORT" in data:
            expect(file, obj, service, "PORT", data["PORT"])
        for key, value in sorted(data.items()):
            for suffix, read in (("_PORT", lambda v: v), ("_URL", _url_port)):
                if key.endswith(suffix):
                    other = key.removesuffix(suffix).lower().replace("_", "-")
                    expect(file, obj, other, key, read(value))
    elif kind == "NetworkPolicy":
        _policy_ports(file, document, expect)
    elif kind == "Ingress":
        for rule in spec.get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                backend = (path.get("backend") or {}).get("service") or {}
                expect(file, obj, str(backend.get("name")), "backend port", (backend.get("port") or {}).get("number"))


def _url_port(value: Any) -> str | None:
    match = _URL_PORT.match(str(value))
    return match[1] if match else None


def _policy_ports(file: str, document: dict[str, Any], expect: Expect) -> None:
    spec, obj = document.get("spec") or {}, name_of(document)
    target = ((spec.get("podSelector") or {}).get("matchLabels") or {}).get(NAME)
    for rule in spec.get("ingress") or []:
        if target:
            for port in rule.get("ports") or []:
                expect(file, obj, target, f"ingress port of {target}", port.get("port"))
    for rule in spec.get("egress") or []:
        for peer in rule.get("to") or []:
            callee = ((peer.get("podSelector") or {}).get("matchLabels") or {}).get(NAME)
            if callee and not peer.get("namespaceSelector"):
                for port in rule.get("ports") or []:
                    expect(file, obj, callee, f"egress port to {callee}", port.get("port"))


def _compose_ports(p: PlatformFiles, expect: Expect) -> None:
    file = "compose/docker-compose.yml"
    for service, body in sorted((p.documents(file)[0].get("services") or {}).items()):
        obj = f"service {service}"
        for published in body.get("ports") or []:
            host, _, container = str(published).rpartition(":")
            expect(file, obj, service, "container port", container)
            expect(file, obj, service, "published port", host.rpartition(":")[2])
        environment = body.get("environment") or {}
        if "PORT" in environment:
            expect(file, obj, service, "PORT", environment["PORT"])
        for key, value in sorted(environment.items()):
            if key.endswith("_URL"):
                expect(file, obj, key.removesuffix("_URL").lower().replace("_", "-"), key, _url_port(value))
        test = (body.get("healthcheck") or {}).get("test") or []
        for word in test if isinstance(test, list) else [test]:
            if str(word).startswith("http://"):
                expect(file, obj, service, "health check port", _url_port(word))
        build = body.get("build")
        if isinstance(build, dict):
            expect(file, obj, service, "build argument PORT", _build_args(build.get("args")).get("PORT", "missing"))


def _build_matrix_ports(p: PlatformFiles, expect: Expect) -> None:
    for job_name, job in sorted(((p.documents(CI_CD) or [{}])[0].get("jobs") or {}).items()):
        for entry in ((job.get("strategy") or {}).get("matrix") or {}).get("include") or []:
            if isinstance(entry, dict) and "service" in entry:
                service = str(entry["service"])
                expect(CI_CD, f"job {job_name} (service {service})", service, "build argument PORT",
                       _build_args(entry.get("build-args")).get("PORT", "missing"))


def _build_args(args: Any) -> dict[str, str]:
    """Build arguments as compose (a mapping, or `KEY=value` items) or build-push-action (`KEY=value` lines) has them."""
    if isinstance(args, dict):
        return {str(key): str(value) for key, value in args.items()}
    lines = args.splitlines() if isinstance(args, str) else args if isinstance(args, list) else []
    pairs = [str(line).partition("=") for line in lines]
    return {key: value for key, sign, value in pairs if sign}


def _dockerfile_ports(text: str) -> Iterator[tuple[int, str, str]]:
    """Ports written into the Dockerfile: (line, what, port)."""
    for number, line in enumerate(text.splitlines(), 1):
        for shape, what in ((r"^\s*EXPOSE\s+(\d+)", "EXPOSE"), (r"\bPORT=(\d+)", "a PORT setting"),
                            (r"http://127\.0\.0\.1:(\d+)", "the health check URL")):
            for match in re.finditer(shape, line):
                yield number, what, match[1]


def _security_group_ports(p: PlatformFiles, env: str, declared: Mapping[str, Declared],
                          problems: list[Problem]) -> None:
    resources = p.terraform(env)
    if not resources:
        return
    public = {d.port for d in declared.values() if d.public}
    file = f"terraform/{env}/network.tf.json"
    for kind, own, peer in (("aws_vpc_security_group_ingress_rule", "eks_nodes", "load_balancer"),
                            ("aws_vpc_security_group_egress_rule", "load_balancer", "eks_nodes")):
        seen = set()
        for label, rule in sorted((resources.get(kind) or {}).items()):
            if _sg(rule.get("security_group_id")) == own and _sg(rule.get("referenced_security_group_id")) == peer:
                seen.add(rule.get("from_port"))
                if rule.get("from_port") not in public or rule.get("to_port") != rule.get("from_port"):
                    problems.append(Problem(p.where(file), f"{kind}.{label}",
                                            f"opens ports {rule.get('from_port')}-{rule.get('to_port')} between the "
                                            f"load balancer and the nodes; the public services' ports are "
                                            f"{sorted(public)}"))
        for port in sorted(public - seen):
            problems.append(Problem(p.where(file), kind, f"no rule lets the load balancer reach the nodes on "
                                                         f"public port {port}"))


def _sg(reference: Any) -> str | None:
    match = _TF_ADDRESS.match(str(reference))
    return match[2] if match and match[1] == "aws_security_group" else None


# -- network edges -------------------------------------------------------------------------------------------------

Edge = tuple[str, str, int]  # (from, to, port); from/to a service, a data store, "ingress", "monitoring" or "dns"


def declared_edges(p: PlatformFiles, env: str) -> tuple[set[Edge], set[Edge]]:
    """The edges the spec declares, as (ingress allowed, egress allowed): calls, uses, the public ingress path, the
    monitoring scrape and DNS. Data store ports come from the services' ConfigMaps (`<STORE>_HOST`, `<STORE>_PORT`)."""
    declared = p.declared()
    stores = _store_ports(p, env)
    ingress: set[Edge] = set()
    egress: set[Edge] = {(service, "dns", 53) for service in declared}
    for service, facts in declared.items():
        ingress.add(("monitoring", service, facts.port))
        if facts.public:
            ingress.add(("ingress", service, facts.port))
        for callee in facts.calls:
            if callee in declared:
                ingress.add((service, callee, declared[callee].port))
                egress.add((service, callee, declared[callee].port))
        for store in facts.uses:
            if store in stores:
                egress.add((service, store, stores[store]))
    # A database bootstrap Job reaches its store (as its Job names it), and the AWS APIs to read the master secret.
    for job, (store, port) in p.bootstraps(env).items():
        egress |= {(job, "dns", 53), (job, store, port), (job, AWS_APIS, 443), (job, POD_IDENTITY_AGENT, 80)}
    return ingress, egress


def _store_ports(p: PlatformFiles, env: str) -> dict[str, int]:
    ports = dict(p.bootstraps(env).values())
    for _, config in p.kinds(env, "ConfigMap"):
        data = config.get("data") or {}
        for key, host in data.items():
            port = _int(data.get(key.removesuffix("_HOST") + "_PORT"))
            if key.endswith("_HOST") and port is not None:
                ports[str(host).split(".")[0]] = port
    return ports


def allowed_edges(p: PlatformFiles, env: str) -> dict[tuple[str, Edge], tuple[str, str]]:
    """Every edge the NetworkPolicies allow, as {("ingress" | "egress", edge): (file, policy)}; an edge to an IP
    block on a data store's port is an edge to that store, and a peer the rule does not recognise is named as
    written, so that it shows up as undeclared."""
    stores = {port: store for store, port in _store_ports(p, env).items()}
    services = set(p.declared()) | set(p.bootstraps(env))  # the pods a namespace-wide policy applies to
    found: dict[tuple[str, Edge], tuple[str, str]] = {}
    for file, policy in p.kinds(env, "NetworkPolicy"):
        spec = policy.get("spec") or {}
        selected = ((spec.get("podSelector") or {}).get("matchLabels") or {}).get(NAME)
        pods = [selected] if selected else sorted(services)
        for direction, peers_key in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(direction) or []:
                for peer in rule.get(peers_key) or [{"anywhere": True}]:
                    for port in rule.get("ports") or [{"port": "any"}]:
                        number = _int(port.get("port")) or 0
                        other = _peer(peer, number, stores, direction)
                        for pod in pods:
                            edge = (other, pod, number) if direction == "ingress" else (pod, other, number)
                            found.setdefault((direction, edge), (file, name_of(policy)))
    return found


def _peer(peer: Mapping[str, Any], port: int, stores: Mapping[int, str], direction: str) -> str:
    pods = (peer.get("podSelector") or {}).get("matchLabels") or {}
    namespace = ((peer.get("namespaceSelector") or {}).get("matchLabels") or {}).get("kubernetes.io/metadata.name")
    if namespace == "kube-system" and pods.get("k8s-app") == "kube-dns" and port == 53:
        return "dns"
    if namespace == MONITORING_NAMESPACE and not pods:
        return "monitoring"
    if NAME in pods and not namespace:
        return str(pods[NAME])
    block = peer.get("ipBlock") or {}
    if direction == "egress" and block == {"cidr": POD_IDENTITY_ADDRESS} and port == 80:
        return POD_IDENTITY_AGENT
    if direction == "egress" and block.get("cidr") == "0.0.0.0/0" and block.get("except") and port == 443:
        return AWS_APIS  # anywhere but the VPC's own range
    if "ipBlock" in peer and direction == "egress" and port in stores:
        return stores[port]
    if "ipBlock" in peer and direction == "ingress":
        return "ingress"
    return json.dumps(peer, sort_keys=True)


def network_edges_match_declared(p: PlatformFiles) -> list[Problem]:
    """The NetworkPolicies of each environment allow exactly the declared edges: each service's calls (egress at the
    caller, ingress at the callee, on the callee's port), its uses (egress to the store's port), DNS for every pod,
    the public ingress path to public services and the monitoring scrape of every service, and for each database
    bootstrap Job its store's port, HTTPS outside the VPC and the Pod Identity agent (nothing in); a namespace-wide
    default deny stands behind them. In Terraform, each data store's security group admits only the nodes, on the
    store's port."""
    if not p.declared():
        return _without_declarations(p)
    problems: list[Problem] = []
    for env in p.environments("kubernetes"):
        ingress, egress = declared_edges(p, env)
        expected = {("ingress", e) for e in ingress} | {("egress", e) for e in egress}
        allowed = allowed_edges(p, env)
        for (direction, edge), (file, policy) in sorted(allowed.items()):
            if (direction, edge) not in expected:
                problems.append(Problem(p.where(file), policy, f"allows {direction} {_edge(edge)}, which the spec "
                                                               "does not declare"))
        for direction, edge in sorted(expected - set(allowed)):
            problems.append(Problem(p.where(f"kubernetes/{env}/network-policies.yaml"), "NetworkPolicy",
                                    f"no policy allows {direction} {_edge(edge)}, which the spec declares"))
        if not any(_is_default_deny(d) for _, d in p.kinds(env, "NetworkPolicy")):
            problems.append(Problem(p.where(f"kubernetes/{env}/network-policies.yaml"), "NetworkPolicy",
                                    "no default-deny policy: pods not named by a policy would accept anything"))
        problems += _store_security_groups(p, env)
    return problems


def _edge(edge: Edge) -> str:
    return f"{edge[0]} -> {edge[1]}:{edge[2]}"


def _is_default_deny(policy: Mapping[str, Any]) -> bool:
    spec = policy.get("spec") or {}
    return spec.get("podSelector") == {} and set(spec.get("policyTypes") or []) == {"Ingress", "Egress"} \
        and not spec.get("ingress") and not spec.get("egress")


def _store_security_groups(p: PlatformFiles, env: str) -> list[Problem]:
    """Security group ingress: a data store admits the nodes on its port; the nodes admit the load balancer (on the
    public ports, which `ports agree` checks); the load balancer admits HTTPS and HTTP (redirected). Nothing else."""
    resources = p.terraform(env)
    stores = _store_ports(p, env)
    problems = []
    file = p.where(f"terraform/{env}/network.tf.json")
    for kind in ("aws_vpc_security_group_ingress_rule", "aws_security_group_rule"):
        for label, rule in sorted((resources.get(kind) or {}).items()):
            if kind == "aws_security_group_rule" and rule.get("type") != "ingress":
                continue
            group, source = _sg(rule.get("security_group_id")), _sg(rule.get("referenced_security_group_id"))
            ports = (rule.get("from_port"), rule.get("to_port"))
            opened = f"admits {source or rule.get('cidr_ipv4') or rule.get('cidr_blocks')} on {ports[0]}-{ports[1]}"
            if group in stores and (source != "eks_nodes" or ports != (stores[group], stores[group])):
                problems.append(Problem(file, f"{kind}.{label}", f"{opened}; {group} admits only the nodes on "
                                                                 f"{stores[group]}"))
            elif group == "eks_nodes" and source != "load_balancer":
                problems.append(Problem(file, f"{kind}.{label}", f"{opened}; the nodes admit only the load "
                                                                 "balancer"))
            elif group == "load_balancer" and ports not in ((443, 443), (80, 80)):
                problems.append(Problem(file, f"{kind}.{label}", f"{opened}; the load balancer admits only HTTPS "
                                                                 "and HTTP"))
    return problems


# -- secrets -------------------------------------------------------------------------------------------------------


def secrets_are_references(p: PlatformFiles) -> list[Problem]:
    """Every secret a service reads comes from Secrets Manager: each ExternalSecret key names a secret Terraform
    declares (`aws_secretsmanager_secret`) in the same environment, the Deployments and Jobs read the ExternalSecret's
    target (and read no Secret nothing creates), and in compose the same variables are `${VAR}` references, never values.
    """
    problems: list[Problem] = []
    needed: dict[str, set[str]] = {}
    declared = p.declared()
    for env in p.environments("kubernetes"):
        names = {str(body.get("name")) for body in (p.terraform(env).get("aws_secretsmanager_secret") or {}).values()}
        targets = set()
        for file, secret in p.kinds(env, "ExternalSecret"):
            spec = secret.get("spec") or {}
            targets.add((spec.get("target") or {}).get("name"))
            service = _service_of(secret)
            for item in spec.get("data") or []:
                key = (item.get("remoteRef") or {}).get("key")
                if p.environments("terraform") and key not in names:
                    problems.append(Problem(p.where(file), name_of(secret), f"{item.get('secretKey')} reads {key}, "
                                                                            "which Terraform does not create"))
                if service in declared:  # compose runs the services, not the Kubernetes-only bootstrap
                    needed.setdefault(service, set()).add(str(item.get("secretKey")))
        for file, workload in p.workloads(env):
            for container in _all_containers(workload):
                read = [(source.get("secretRef") or {}).get("name") for source in container.get("envFrom") or []]
                read += [((item.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name")
                         for item in container.get("env") or []]
                for name in read:
                    if name and name not in targets:
                        problems.append(Problem(p.where(file), name_of(workload),
                                                f"reads Secret {name}, which no ExternalSecret creates"))
    compose = "compose/docker-compose.yml"
    if compose in p.files:
        services = p.documents(compose)[0].get("services") or {}
        for service, keys in sorted(needed.items()):
            environment = (services.get(service) or {}).get("environment") or {}
            for key in sorted(keys):
                value = environment.get(key)
                if not (isinstance(value, str) and _REFERENCE.match(value)):
                    problems.append(Problem(p.where(compose), f"service {service}",
                                            f"{key} must be a ${{VAR}} reference (Kubernetes reads it from Secrets "
                                            f"Manager), got {'nothing' if value is None else 'a value'}"))
    return problems


def no_literal_secrets(p: PlatformFiles) -> list[Problem]:
    """No generated byte looks like a literal secret: AWS keys, private keys, tokens, passwords in URLs, or a
    variable named like a secret given a value instead of a reference (the same scan `generate` runs, here over the
    files as committed, patches and hand edits included)."""
    return [Problem(p.where(finding.path), f"line {finding.line}", finding.message) for finding in scan(p.files)]


# -- names ---------------------------------------------------------------------------------------------------------


def names_agree(p: PlatformFiles) -> list[Problem]:
    """Names one target uses for another's objects exist there: each workflow job's namespace, Deployments and
    Services are in its environment's Kubernetes output, its cluster is that environment's `aws_eks_cluster`, the
    role it assumes is an `aws_iam_role` there; the runbooks' clusters are Terraform's clusters; each Pod Identity
    association names a declared IAM role and cluster, and a ServiceAccount in the application's namespace that the
    Kubernetes output has; every Deployment's and Job's ServiceAccount exists, and every Job a workflow waits for."""
    problems: list[Problem] = []
    clusters = {env: {str(c.get("name")) for c in (p.terraform(env).get("aws_eks_cluster") or {}).values()}
                for env in p.environments("terraform")}
    for path in sorted(f for f in p.files if f.startswith("github/workflows/")):
        for job_name, job in sorted(((p.documents(path) or [{}])[0].get("jobs") or {}).items()):
            problems += _job_names(p, path, f"job {job_name}", job, clusters)
    everywhere = set().union(*clusters.values()) if clusters else set()
    for path in sorted(f for f in p.files if f.startswith("scripts/")):
        for cluster in _SCRIPT_CLUSTER.findall(p.text(path)):
            if clusters and cluster not in everywhere:
                problems.append(Problem(p.where(path), "cluster", f"'{cluster}' is not an aws_eks_cluster of "
                                                                  f"Terraform ({', '.join(sorted(everywhere))})"))
    for env in p.environments("kubernetes"):
        accounts = {(_meta(d).get("namespace"), _meta(d).get("name")) for _, d in p.kinds(env, "ServiceAccount")}
        namespaces = {_meta(d).get("name") for _, d in p.kinds(env, "Namespace")}
        for file, workload in p.workloads(env):
            account = (_pod(workload).get("spec") or {}).get("serviceAccountName")
            if account and (_meta(workload).get("namespace"), account) not in accounts:
                problems.append(Problem(p.where(file), name_of(workload), f"runs as ServiceAccount {account}, "
                                                                          "which is not generated"))
        resources = p.terraform(env)
        for label, association in sorted((resources.get("aws_eks_pod_identity_association") or {}).items()):
            obj, file = f"aws_eks_pod_identity_association.{label}", p.where(f"terraform/{env}/eks.tf.json")
            for key, kind in (("role_arn", "aws_iam_role"), ("cluster_name", "aws_eks_cluster")):
                match = _TF_ADDRESS.match(str(association.get(key)))
                if not match or match[1] != kind or match[2] not in (resources.get(kind) or {}):
                    problems.append(Problem(file, obj, f"{key} {association.get(key)} is not a declared {kind}"))
            if association.get("namespace") in namespaces \
                    and (association.get("namespace"), association.get("service_account")) not in accounts:
                problems.append(Problem(file, obj, f"ServiceAccount {association.get('service_account')} is not in "
                                                   f"the Kubernetes output of {env}"))
    return problems


def _job_names(p: PlatformFiles, path: str, obj: str, job: Mapping[str, Any],
               clusters: Mapping[str, set[str]]) -> list[Problem]:
    environment = job.get("environment")
    env = environment.get("name") if isinstance(environment, dict) else environment
    if not isinstance(env, str) or env not in p.environments("kubernetes"):
        return []
    where, problems = p.where(path), []
    namespaces = {_meta(d).get("name") for _, d in p.kinds(env, "Namespace")}
    deployments = {_meta(d).get("name") for _, d in p.kinds(env, "Deployment")}
    services = {_meta(d).get("name") for _, d in p.kinds(env, "Service")}
    jobs = {_meta(d).get("name") for _, d in p.kinds(env, "Job")}
    roles = {str(r.get("name")) for r in (p.terraform(env).get("aws_iam_role") or {}).values()}
    variables = [dict(job.get("env") or {})] + [dict(step.get("env") or {}) for step in job.get("steps") or []]
    for values in variables:
        for key, value in sorted(values.items()):
            if not isinstance(value, str) or "${{" in value:
                continue
            if key == "NAMESPACE" and value not in namespaces:
                problems.append(Problem(where, obj, f"namespace {value} is not in kubernetes/{env}"))
            if key.startswith("DEPLOYMENT") and value not in deployments:
                problems.append(Problem(where, obj, f"Deployment {value} is not in kubernetes/{env}"))
            if key == "SERVICE" and value not in services:
                problems.append(Problem(where, obj, f"Service {value} is not in kubernetes/{env}"))
            if key == "JOB" and value not in jobs:
                problems.append(Problem(where, obj, f"Job {value} is not in kubernetes/{env}"))
            if key == "CLUSTER" and env in clusters and value not in clusters[env]:
                problems.append(Problem(where, obj, f"cluster {value} is not the aws_eks_cluster of terraform/{env}"))
    for step in job.get("steps") or []:
        role = _ROLE_ARN.match(str((step.get("with") or {}).get("role-to-assume", "")))
        if role and env in clusters and role[1] not in roles:
            problems.append(Problem(where, obj, f"assumes role {role[1]}, which is not an aws_iam_role of "
                                                f"terraform/{env} (Terraform creates it once the spec sets "
                                                "delivery.repository)"))
    return problems


# -- labels --------------------------------------------------------------------------------------------------------


def labels_reach(p: PlatformFiles) -> list[Problem]:
    """Every Kubernetes object of an environment, and every pod template, carries the environment's labels
    (`app.kubernetes.io/part-of` = the platform, `managed-by` = bizinfra, `bizinfra.dev/environment` = the folder),
    a Job's pod template included;
    every selector (Deployment, Service, PodDisruptionBudget, NetworkPolicy, PodMonitor, topology spread) selects
    pods that exist, and a Deployment's selector matches its own pod template."""
    problems: list[Problem] = []
    for env in p.environments("kubernetes"):
        promised = {PART_OF: p.name, "app.kubernetes.io/managed-by": MANAGED_BY, "bizinfra.dev/environment": env}
        pods = [((_meta(_pod(d)).get("labels") or {}), d) for _, d in p.workloads(env)]
        for file, document in p.objects(env):
            obj = name_of(document)
            carriers = [("labels", _meta(document).get("labels") or {})]
            if document.get("kind") in WORKLOADS:
                carriers.append(("pod template labels", _meta(_pod(document)).get("labels") or {}))
            for where, labels in carriers:
                for key, value in sorted(promised.items()):
                    if labels.get(key) != value:
                        problems.append(Problem(p.where(file), obj, f"{where} lack {key}={value}"))
            for what, selector in _selectors(document):
                if document.get("kind") == "Deployment" and what == "selector":
                    matched = _matches(selector, carriers[1][1])
                else:
                    matched = any(_matches(selector, labels) for labels, _ in pods)
                if not matched:
                    problems.append(Problem(p.where(file), obj, f"{what} {_show(selector)} selects no pod"))
    return problems


def _selectors(document: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    spec, kind = document.get("spec") or {}, document.get("kind")
    if kind == "Service" and spec.get("selector"):
        yield "selector", spec["selector"]
    if kind in ("Deployment", "PodDisruptionBudget", "PodMonitor") and spec.get("selector"):
        yield "selector", (spec["selector"].get("matchLabels") or {})
    if kind == "NetworkPolicy" and (spec.get("podSelector") or {}).get("matchLabels"):
        yield "podSelector", spec["podSelector"]["matchLabels"]
    if kind == "Deployment":
        for constraint in ((_pod(document).get("spec") or {}).get("topologySpreadConstraints") or []):
            yield "topology spread selector", ((constraint.get("labelSelector") or {}).get("matchLabels") or {})


def _matches(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _show(selector: Mapping[str, Any]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(selector.items()))


# -- images --------------------------------------------------------------------------------------------------------


def images_are_pinned(p: PlatformFiles) -> list[Problem]:
    """Every container of a Deployment or Job, init containers included, names its image with a tag that is not
    `latest` (a Deployment's is the placeholder a release replaces), so what runs is what was reviewed."""
    problems = []
    for env in p.environments("kubernetes"):
        for file, workload in p.workloads(env):
            for container in _all_containers(workload):
                image = str(container.get("image", ""))
                name, colon, tag = image.rpartition(":")
                if not (colon and name and tag and "/" not in tag) or tag == "latest":
                    problems.append(Problem(p.where(file), name_of(workload), f"container {container.get('name')} "
                                                                              f"runs '{image}', not a pinned tag"))
    return problems


# -- all of them ---------------------------------------------------------------------------------------------------

RULES: dict[str, Callable[[PlatformFiles], list[Problem]]] = {
    "ports agree": ports_agree,
    "network edges match the declared ones": network_edges_match_declared,
    "secrets are references": secrets_are_references,
    "no literal secrets": no_literal_secrets,
    "names agree across targets": names_agree,
    "labels reach their objects": labels_reach,
    "images are pinned": images_are_pinned,
}


def platforms(files: Mapping[str, bytes]) -> list[PlatformFiles]:
    """The generated tree (paths relative to the output folder) split by platform folder."""
    grouped: dict[str, dict[str, bytes]] = {}
    for path, content in files.items():
        platform, _, rest = path.partition("/")
        if rest:
            grouped.setdefault(platform, {})[rest] = content
    return [PlatformFiles(name, grouped[name]) for name in sorted(grouped)]


def check(files: Mapping[str, bytes]) -> list[Problem]:
    """Every rule over every platform of a generated tree."""
    return sorted({problem for platform in platforms(files) for rule in RULES.values() for problem in rule(platform)})
