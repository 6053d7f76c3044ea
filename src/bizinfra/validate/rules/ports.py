"""Rule `ports agree`: every place a service's port is written says the port the architecture document declares."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from bizinfra.validate.rules.documents import (
    as_int,
    containers,
    labels,
    meta,
    name_of,
    pod,
    security_group,
    selected_name,
    service_of,
    url_port,
)
from bizinfra.validate.rules.platform_files import Declared, PlatformFiles, Problem, without_declarations

CI_CD, DOCKERFILE = "github/workflows/ci-cd.yml", "docker/Dockerfile"
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
# Expect(file, object, service, what, value): report the value if it is not the service's declared port.
Expect = Callable[[str, str, str, str, Any], None]


def ports_agree(p: PlatformFiles) -> list[Problem]:
    """A service's port, as the architecture document declares it, is the port of its Kubernetes Service (port and
    targetPort), its Deployments' container port, probes and `prometheus.io/port` annotation, its ConfigMap's PORT,
    the shared ConfigMap's `<SERVICE>_PORT` and `<SERVICE>_URL`, its NetworkPolicy rules (its own ingress and every
    caller's egress to it), every compose file's service (published port, PORT, `<SERVICE>_URL`, health check, PORT
    build argument), the CI build matrix's PORT build argument, and, for a public service, the security group rules
    between the load balancer and the nodes (and no other port there). The one Dockerfile every service builds from
    takes its port from the PORT build argument, so it must write none of its own. Every PodMonitor (a service's or
    a data store exporter's) scrapes a port that the containers of the pods it selects serve."""
    declared = p.declared()
    if not declared:
        return without_declarations(p)
    problems: list[Problem] = []

    def expect(file: str, obj: str, service: str, what: str, value: Any) -> None:
        if service in declared and as_int(value) != declared[service].port:
            port = declared[service].port
            problems.append(Problem(p.where(file), obj, f"{what} is {value}, but " + (
                f"{service}'s port is {port}" if port is not None else f"{service} listens on no port")))

    for env in p.environments("kubernetes"):
        for file, document in p.objects(env):
            _KUBERNETES.get(str(document.get("kind")), _no_ports)(file, document, expect)
        problems += _security_group_ports(p, env, declared) + _pod_monitor_ports(p, env)
    for file in p.compose_files():
        _compose_ports(p, file, expect)
    if CI_CD in p.files:
        _build_matrix_ports(p, expect)
    if DOCKERFILE in p.files:
        problems += [Problem(p.where(DOCKERFILE), f"line {line}", f"{what} hard-codes port {port}; every "
                                                                  "service's port comes from the PORT build argument")
                     for line, what, port in _dockerfile_ports(p.text(DOCKERFILE))]
    return problems


# -- Kubernetes, one reader per kind that writes a port ---------------------------------------------------------------


def _service_ports(file: str, service: dict[str, Any], expect: Expect) -> None:
    owner = service_of(service)
    if not owner:
        return
    for port in (service.get("spec") or {}).get("ports") or []:
        expect(file, name_of(service), owner, "port", port.get("port"))
        expect(file, name_of(service), owner, "targetPort", port.get("targetPort"))


def _deployment_ports(file: str, deployment: dict[str, Any], expect: Expect) -> None:
    owner, obj = service_of(deployment), name_of(deployment)
    if not owner:
        return
    annotation = (meta(pod(deployment)).get("annotations") or {}).get("prometheus.io/port")
    if annotation is not None:
        expect(file, obj, owner, "annotation prometheus.io/port", annotation)
    for container in containers(deployment):
        for port in container.get("ports") or []:
            expect(file, obj, owner, f"container {container.get('name')} port", port.get("containerPort"))
        for probe in PROBES:
            check = (container.get(probe) or {}).get("httpGet")
            if check:
                expect(file, obj, owner, f"{probe} port", check.get("port"))


def _config_map_ports(file: str, config: dict[str, Any], expect: Expect) -> None:
    """A service's own PORT, and the `<SERVICE>_PORT` and `<SERVICE>_URL` by which others reach a service."""
    owner, obj, data = service_of(config), name_of(config), config.get("data") or {}
    if owner and "PORT" in data:
        expect(file, obj, owner, "PORT", data["PORT"])
    for key, value in sorted(data.items()):
        if key.endswith("_PORT"):
            expect(file, obj, _service_named(key, "_PORT"), key, value)
        if key.endswith("_URL"):
            expect(file, obj, _service_named(key, "_URL"), key, url_port(value))


def _policy_ports(file: str, policy: dict[str, Any], expect: Expect) -> None:
    """The port of a policy's own ingress, and of each egress rule to a service in the same namespace."""
    spec, obj = policy.get("spec") or {}, name_of(policy)
    target = selected_name(spec.get("podSelector"))
    for rule in spec.get("ingress") or []:
        for port in rule.get("ports") or []:
            if target:
                expect(file, obj, target, f"ingress port of {target}", port.get("port"))
    for rule in spec.get("egress") or []:
        for peer in rule.get("to") or []:
            callee = selected_name(peer.get("podSelector"))
            if not callee or peer.get("namespaceSelector"):
                continue  # a peer in another namespace (DNS, monitoring) is not a service of this platform
            for port in rule.get("ports") or []:
                expect(file, obj, callee, f"egress port to {callee}", port.get("port"))


def _pod_monitor_ports(p: PlatformFiles, env: str) -> list[Problem]:
    """A PodMonitor's `portNumber` is a container port of the pods it selects (whichever pods: `labels reach their
    objects` names a selector that selects none)."""
    pods = [(labels(pod(workload)), workload) for _, workload in p.workloads(env)]
    problems = []
    for file, monitor in p.kinds(env, "PodMonitor"):
        spec = monitor.get("spec") or {}
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        served = {number for found, workload in pods if all(found.get(key) == value for key, value in selector.items())
                  for container in containers(workload) for port in container.get("ports") or []
                  if (number := as_int(port.get("containerPort"))) is not None}
        for endpoint in spec.get("podMetricsEndpoints") or []:
            number = endpoint.get("portNumber")
            if number is not None and served and as_int(number) not in served:
                problems.append(Problem(p.where(file), name_of(monitor), f"scrapes port {number}, but the pods it "
                                                                         f"selects serve {sorted(served)}"))
    return problems


def _no_ports(file: str, document: dict[str, Any], expect: Expect) -> None:
    """A kind that writes no service port."""


_KUBERNETES: dict[str, Callable[[str, dict[str, Any], Expect], None]] = {
    "Service": _service_ports, "Deployment": _deployment_ports, "CronJob": _deployment_ports, "ConfigMap": _config_map_ports,
    "NetworkPolicy": _policy_ports,
}


def _service_named(key: str, suffix: str) -> str:
    """`AUTH_SERVICE_PORT` -> `auth-service`."""
    return key.removesuffix(suffix).lower().replace("_", "-")


# -- compose, CI and the Dockerfile -----------------------------------------------------------------------------------


def _compose_ports(p: PlatformFiles, file: str, expect: Expect) -> None:
    for service, body in sorted((p.first(file).get("services") or {}).items()):
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
                expect(file, obj, _service_named(key, "_URL"), key, url_port(value))
        test = (body.get("healthcheck") or {}).get("test") or []
        for word in test if isinstance(test, list) else [test]:
            if str(word).startswith("http://"):
                expect(file, obj, service, "health check port", url_port(word))
        build = body.get("build")
        if isinstance(build, dict):
            expect(file, obj, service, "build argument PORT", _build_args(build.get("args")).get("PORT", "missing"))


def _build_matrix_ports(p: PlatformFiles, expect: Expect) -> None:
    for job_name, job in sorted((p.first(CI_CD).get("jobs") or {}).items()):
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


# -- Terraform --------------------------------------------------------------------------------------------------------


def _security_group_ports(p: PlatformFiles, env: str, declared: Mapping[str, Declared]) -> list[Problem]:
    """The rules between the load balancer and the nodes open exactly the public services' ports."""
    resources = p.terraform(env)
    if not resources:
        return []
    public = {d.port for d in declared.values() if d.public and d.port is not None}
    file, problems = p.where(f"terraform/{env}/network.tf.json"), []
    for kind, own, peer in (("aws_vpc_security_group_ingress_rule", "eks_nodes", "load_balancer"),
                            ("aws_vpc_security_group_egress_rule", "load_balancer", "eks_nodes")):
        seen = set()
        for label, rule in sorted((resources.get(kind) or {}).items()):
            if security_group(rule.get("security_group_id")) == own \
                    and security_group(rule.get("referenced_security_group_id")) == peer:
                seen.add(rule.get("from_port"))
                if rule.get("from_port") not in public or rule.get("to_port") != rule.get("from_port"):
                    problems.append(Problem(file, f"{kind}.{label}",
                                            f"opens ports {rule.get('from_port')}-{rule.get('to_port')} between the "
                                            f"load balancer and the nodes; the public services' ports are "
                                            f"{sorted(public)}"))
        problems += [Problem(file, kind, f"no rule lets the load balancer reach the nodes on public port {port}")
                     for port in sorted(public - seen)]
    return problems
