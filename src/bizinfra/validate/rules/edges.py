"""Rule `network edges match the declared ones`: the NetworkPolicies allow exactly the edges the spec declares, and
the security groups admit only what the design needs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from bizinfra.validate.rules.documents import (
    NAME,
    as_int,
    containers,
    env_values,
    labels,
    meta,
    name_of,
    security_group,
    selected_name,
)
from bizinfra.validate.rules.documents import pod as pod_template
from bizinfra.validate.rules.platform_files import PlatformFiles, Problem, without_declarations

Edge = tuple[str, str, int]  # (from, to, port); from/to a service, a data store, "ingress", "monitoring" or "dns"
# Where Prometheus scrapes from, when no dashboard ConfigMap says: bizinfra's default `monitoring.stack.namespace`.
DEFAULT_MONITORING_NAMESPACE = "monitoring"
DASHBOARD_LABEL = "grafana_dashboard"  # what Grafana's dashboard sidecar selects ConfigMaps by
BOOTSTRAP_COMPONENT = "database-bootstrap"  # the component label of a PostgreSQL store's bootstrap Job
EXPORTER_COMPONENT = "exporter"  # the component label of a data store's Prometheus exporter
# The component label of a service's migration Jobs, whose pods are named `<service>-migration`.
MIGRATION_COMPONENT, MIGRATION_SUFFIX = "migration", "-migration"
# Where each exporter's documented variable names its store: postgres_exporter `host:port/db?...`, redis_exporter
# `redis[s]://host:port`.
_EXPORTER_ADDRESS = re.compile(r"^(?:rediss?://)?([^:/]+):(\d+)(?:/|$)")
EXPORTER_ADDRESSES = ("DATA_SOURCE_URI", "REDIS_ADDR")
# The peers a database bootstrap Job may reach besides its store and DNS: HTTPS outside the VPC (the RDS and
# Secrets Manager APIs) and the node's EKS Pod Identity agent.
AWS_APIS, POD_IDENTITY_AGENT = "aws-apis", "pod-identity-agent"
POD_IDENTITY_ADDRESS = "169.254.170.23/32"
# A service's declared egress (its external hosts and AWS APIs) reaches "the internet": anywhere but these ranges
# (RFC 1918, RFC 6598 shared space, link-local), on its hosts' ports, and the Pod Identity agent when it calls AWS.
INTERNET = "internet"
PRIVATE_RANGES = ("10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16")


def network_edges_match_declared(p: PlatformFiles) -> list[Problem]:
    """The NetworkPolicies of each environment allow exactly the declared edges: each service's calls (egress at the
    caller, ingress at the callee, on the callee's port), its uses (egress to the store's port), DNS for every pod,
    the public ingress path to public services and the monitoring scrape of every service, for each database
    bootstrap Job its store's port, HTTPS outside the VPC and the Pod Identity agent (nothing in), for each service's
    migration Jobs its PostgreSQL database's port (nothing in), and for each data
    store exporter the monitoring scrape on its container's metrics port and its one store's port; a namespace-wide
    default deny stands behind them. In Terraform, each data store's security group admits only the nodes, on the
    store's port."""
    if not p.declared():
        return without_declarations(p)
    problems: list[Problem] = []
    for env in p.environments("kubernetes"):
        ingress, egress = declared_edges(p, env)
        expected = {("ingress", e) for e in ingress} | {("egress", e) for e in egress}
        allowed = allowed_edges(p, env)
        policies = p.where(f"kubernetes/{env}/network-policies.yaml")
        for (direction, edge), (file, policy) in sorted(allowed.items()):
            if (direction, edge) not in expected:
                problems.append(Problem(p.where(file), policy, f"allows {direction} {_edge(edge)}, which the spec "
                                                               f"does not declare{_hint(p, direction, edge)}"))
        for direction, edge in sorted(expected - set(allowed)):
            problems.append(Problem(policies, "NetworkPolicy",
                                    f"no policy allows {direction} {_edge(edge)}, which the spec declares"))
        if not any(_is_default_deny(d) for _, d in p.kinds(env, "NetworkPolicy")):
            problems.append(Problem(policies, "NetworkPolicy",
                                    "no default-deny policy: pods not named by a policy would accept anything"))
        problems += _store_security_groups(p, env)
    return problems


# -- what the spec declares -------------------------------------------------------------------------------------------


def declared_edges(p: PlatformFiles, env: str) -> tuple[set[Edge], set[Edge]]:
    """The edges the spec declares, as (ingress allowed, egress allowed): calls, uses, the public ingress path, the
    monitoring scrape and DNS. Data store ports come from the services' ConfigMaps (`<STORE>_HOST`, `<STORE>_PORT`)."""
    declared = p.declared()
    stores = store_ports(p, env)
    ingress: set[Edge] = set()
    egress: set[Edge] = {(service, "dns", 53) for service in declared}
    for service, facts in declared.items():
        if facts.port is not None:  # what listens is scraped; a worker without a port or a cron job takes nothing in
            ingress.add(("monitoring", service, facts.port))
        if facts.public and facts.port is not None:
            ingress.add(("ingress", service, facts.port))
        for callee in facts.calls & set(declared):
            port = declared[callee].port
            if port is not None:
                ingress.add((service, callee, port))
                egress.add((service, callee, port))
        egress |= {(service, store, stores[store]) for store in facts.uses if store in stores}
    for service, reaches in p.reaches().items():  # what the spec's `egress` and buckets declare
        egress |= {(service, INTERNET, port) for port in reaches.ports}
        if reaches.aws or reaches.buckets:
            egress.add((service, POD_IDENTITY_AGENT, 80))
    # A database bootstrap Job reaches its store (as its Job names it), and the AWS APIs to read the master secret.
    for job, (store, port) in bootstraps(p, env).items():
        egress |= {(job, "dns", 53), (job, store, port), (job, AWS_APIS, 443), (job, POD_IDENTITY_AGENT, 80)}
    # A service's migration Jobs reach its PostgreSQL database (a store a bootstrap Job prepares), nothing else.
    databases = {store for store, _ in bootstraps(p, env).values()}
    for pods, service in migrations(p, env).items():
        egress |= {(pods, "dns", 53)} | {(pods, store, stores[store]) for store in declared[service].uses
                                         if store in databases and store in stores}
    # An exporter is scraped on the port its container serves metrics on, and reaches the store its address names.
    for exporter, (store, port, metrics) in exporters(p, env).items():
        ingress.add(("monitoring", exporter, metrics))
        egress |= {(exporter, "dns", 53), (exporter, store, port)}
    return ingress, egress


def exporters(p: PlatformFiles, env: str) -> dict[str, tuple[str, int, int]]:
    """The data store exporters, by Deployment name: the store their address variable names (its host's first label),
    its port, and the container's `metrics` port."""
    found = {}
    for _, deployment in p.kinds(env, "Deployment"):
        if labels(deployment).get("app.kubernetes.io/component") != EXPORTER_COMPONENT:
            continue
        for container in containers(deployment):
            values = env_values(container)
            address = next((_EXPORTER_ADDRESS.match(str(values[key])) for key in EXPORTER_ADDRESSES if key in values),
                           None)
            metrics = next((as_int(port.get("containerPort")) for port in container.get("ports") or []
                            if port.get("name") == "metrics"), None)
            if address and metrics is not None:
                found[str(meta(deployment).get("name"))] = (address[1].split(".")[0], int(address[2]), metrics)
    return found


def migrations(p: PlatformFiles, env: str) -> dict[str, str]:
    """The migration Jobs' pods, by their name label (`<service>-migration`): the declared service they migrate."""
    declared = p.declared()
    found = {}
    for _, job in p.kinds(env, "Job"):
        if labels(job).get("app.kubernetes.io/component") != MIGRATION_COMPONENT:
            continue
        name = str(labels(pod_template(job)).get(NAME))
        if name.removesuffix(MIGRATION_SUFFIX) in declared:
            found[name] = name.removesuffix(MIGRATION_SUFFIX)
    return found


def bootstraps(p: PlatformFiles, env: str) -> dict[str, tuple[str, int]]:
    """The database bootstrap Jobs, by name: the store each connects to (PGHOST's first label) and its port."""
    found = {}
    for _, job in p.kinds(env, "Job"):
        if labels(job).get("app.kubernetes.io/component") != BOOTSTRAP_COMPONENT:
            continue
        for container in containers(job):
            values = env_values(container)
            port = as_int(values.get("PGPORT"))
            if "PGHOST" in values and port is not None:
                found[str(meta(job).get("name"))] = (str(values["PGHOST"]).split(".")[0], port)
    return found


def store_ports(p: PlatformFiles, env: str) -> dict[str, int]:
    """Each data store's port, by store: from the exporters' addresses, the bootstrap Jobs and the ConfigMaps'
    `<STORE>_HOST`/`<STORE>_PORT` (a store no service uses, e.g. a Redis, is known only by its exporter)."""
    ports = {store: port for store, port, _ in exporters(p, env).values()}
    ports |= dict(bootstraps(p, env).values())
    for _, config in p.kinds(env, "ConfigMap"):
        data = config.get("data") or {}
        for key, host in data.items():
            port = as_int(data.get(key.removesuffix("_HOST") + "_PORT"))
            if key.endswith("_HOST") and port is not None:
                ports[str(host).split(".")[0]] = port
    return ports


# -- what the policies allow ------------------------------------------------------------------------------------------


def allowed_edges(p: PlatformFiles, env: str) -> dict[tuple[str, Edge], tuple[str, str]]:
    """Every edge the NetworkPolicies allow, as {("ingress" | "egress", edge): (file, policy)}; an edge to an IP
    block on a data store's port is an edge to that store, and a peer the rule does not recognise is named as
    written, so that it shows up as undeclared."""
    stores = {port: store for store, port in store_ports(p, env).items()}
    monitoring = monitoring_namespace(p, env)
    # what namespace-wide rules cover
    services = set(p.declared()) | set(bootstraps(p, env)) | set(exporters(p, env)) | set(migrations(p, env))
    found: dict[tuple[str, Edge], tuple[str, str]] = {}
    for file, policy in p.kinds(env, "NetworkPolicy"):
        spec = policy.get("spec") or {}
        selected = selected_name(spec.get("podSelector"))
        pods = [selected] if selected else sorted(services)
        for direction, peers_key in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(direction) or []:
                for peer in rule.get(peers_key) or [{"anywhere": True}]:
                    for port in rule.get("ports") or [{"port": "any"}]:
                        number = as_int(port.get("port")) or 0
                        other = _peer(peer, number, stores, direction, monitoring)
                        for pod in pods:
                            edge = (other, pod, number) if direction == "ingress" else (pod, other, number)
                            found.setdefault((direction, edge), (file, name_of(policy)))
    return found


def monitoring_namespace(p: PlatformFiles, env: str) -> str:
    """The monitoring stack's namespace, as the files state it: where the dashboard ConfigMap is put for Grafana's
    sidecar, which runs beside Prometheus (the same kube-prometheus-stack release)."""
    for _, config in p.kinds(env, "ConfigMap"):
        if DASHBOARD_LABEL in labels(config):
            return str(meta(config).get("namespace") or DEFAULT_MONITORING_NAMESPACE)
    return DEFAULT_MONITORING_NAMESPACE


def _peer(peer: Mapping[str, Any], port: int, stores: Mapping[int, str], direction: str, monitoring: str) -> str:
    """The name of the other end of a policy rule, in the words of `declared_edges`; a peer not recognised is named
    as written."""
    pods = (peer.get("podSelector") or {}).get("matchLabels") or {}
    namespace = ((peer.get("namespaceSelector") or {}).get("matchLabels") or {}).get("kubernetes.io/metadata.name")
    if namespace == "kube-system" and pods.get("k8s-app") == "kube-dns" and port == 53:
        return "dns"
    if namespace == monitoring and not pods:
        return "monitoring"
    if NAME in pods and not namespace:
        return str(pods[NAME])
    if "ipBlock" in peer:
        return _ip_block(peer["ipBlock"] or {}, port, stores, direction) or json.dumps(peer, sort_keys=True)
    return json.dumps(peer, sort_keys=True)


def _ip_block(block: Mapping[str, Any], port: int, stores: Mapping[int, str], direction: str) -> str | None:
    if direction == "ingress":
        return "ingress"  # the public ingress path: the load balancer's subnets
    if block == {"cidr": POD_IDENTITY_ADDRESS} and port == 80:
        return POD_IDENTITY_AGENT
    if block.get("cidr") == "0.0.0.0/0" and set(PRIVATE_RANGES) <= set(block.get("except") or []):
        return INTERNET  # anywhere but the private ranges, on any port a declared host uses
    if block.get("cidr") == "0.0.0.0/0" and block.get("except") and port == 443:
        return AWS_APIS  # anywhere but the VPC's own range
    return stores.get(port)  # a data store, outside the cluster, by its port


def _hint(p: PlatformFiles, direction: str, edge: Edge) -> str:
    """Where the spec would declare an edge from a service to outside the platform: its `egress`, not a patch."""
    service, peer = edge[0], edge[1]
    inside = set(p.declared()) | {"dns"}
    if direction != "egress" or service not in p.declared() or peer in inside or peer in store_names(p):
        return ""
    return f"; declare what {service} calls outside the platform under services.{service}.egress"


def store_names(p: PlatformFiles) -> set[str]:
    return {store for facts in p.declared().values() for store in facts.uses}


def _edge(edge: Edge) -> str:
    return f"{edge[0]} -> {edge[1]}:{edge[2]}"


def _is_default_deny(policy: Mapping[str, Any]) -> bool:
    spec = policy.get("spec") or {}
    return spec.get("podSelector") == {} and set(spec.get("policyTypes") or []) == {"Ingress", "Egress"} \
        and not spec.get("ingress") and not spec.get("egress")


# -- security groups --------------------------------------------------------------------------------------------------


def _store_security_groups(p: PlatformFiles, env: str) -> list[Problem]:
    """Security group ingress: a data store admits the nodes on its port; the nodes admit the load balancer (on the
    public ports, which `ports agree` checks); the load balancer admits HTTPS and HTTP (redirected). Nothing else."""
    resources = p.terraform(env)
    stores = store_ports(p, env)
    problems = []
    file = p.where(f"terraform/{env}/network.tf.json")
    for kind in ("aws_vpc_security_group_ingress_rule", "aws_security_group_rule"):
        for label, rule in sorted((resources.get(kind) or {}).items()):
            if kind == "aws_security_group_rule" and rule.get("type") != "ingress":
                continue
            wrong = _inadmissible(rule, stores)
            if wrong:
                problems.append(Problem(file, f"{kind}.{label}", wrong))
    return problems


def _inadmissible(rule: Mapping[str, Any], stores: Mapping[str, int]) -> str | None:
    """Why a security group ingress rule admits what it should not, or None."""
    group, source = security_group(rule.get("security_group_id")), security_group(rule.get("referenced_security_group_id"))
    ports = (rule.get("from_port"), rule.get("to_port"))
    opened = f"admits {source or rule.get('cidr_ipv4') or rule.get('cidr_blocks')} on {ports[0]}-{ports[1]}"
    store_port = stores.get(group or "")
    if store_port is not None and (source != "eks_nodes" or ports != (store_port, store_port)):
        return f"{opened}; {group} admits only the nodes on {store_port}"
    if group == "eks_nodes" and source != "load_balancer":
        return f"{opened}; the nodes admit only the load balancer"
    if group == "load_balancer" and ports not in ((443, 443), (80, 80)):
        return f"{opened}; the load balancer admits only HTTPS and HTTP"
    return None
