"""NetworkPolicies derived from the spec's graph: deny everything, then allow exactly the declared edges.

Allowed: DNS to kube-dns; a service's port from the services that call it, from the public subnets when it
is public (target type `ip`: the ALB's nodes there connect straight to the pods), and from the monitoring
stack's namespace (`monitoring.stack.namespace`: Prometheus scrapes the same port); egress to the services it
calls and, in the private subnets where RDS and ElastiCache live, to the ports of the data stores it uses; and for
its declared `egress` (egress.py), the ports of its external hosts and HTTPS for AWS outside the private ranges,
plus the Pod Identity agent when it calls AWS. A database bootstrap Job may reach its store's port, HTTPS outside
the VPC and the node's Pod Identity agent, and takes nothing in.
"""

from __future__ import annotations

from bizinfra.plan import POD_IDENTITY_AGENT, DatabaseBootstrap, EnvironmentPlan, ServicePlan
from bizinfra.targets.kubernetes.common import Manifest, metadata
from bizinfra.targets.kubernetes.egress import declared_egress, egress_annotations


def network_policies(env: EnvironmentPlan) -> list[Manifest]:
    policies = [default_deny(env), allow_dns(env)]
    for service in env.services:
        policies.append(service_traffic(env, service))
        if service.port is not None:  # a worker or cron job without a port takes nothing in
            policies.append(metrics_scrape(env, service, service.port))
    return policies + [bootstrap_traffic(env, bootstrap) for bootstrap in env.database_bootstraps]


def policy(env: EnvironmentPlan, name: str, labels: dict[str, str], pods: dict[str, str],
           ingress: list[Manifest] | None = None, egress: list[Manifest] | None = None) -> Manifest:
    spec: Manifest = {"podSelector": {"matchLabels": pods} if pods else {}, "policyTypes": []}
    if ingress is not None:
        spec["policyTypes"].append("Ingress")
        spec["ingress"] = ingress
    if egress is not None:
        spec["policyTypes"].append("Egress")
        spec["egress"] = egress
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata(env, name, labels),
            "spec": spec}


def tcp(port: int) -> list[Manifest]:
    return [{"protocol": "TCP", "port": port}]


def default_deny(env: EnvironmentPlan) -> Manifest:
    return policy(env, "default-deny", dict(env.labels), {}, ingress=[], egress=[])


def allow_dns(env: EnvironmentPlan) -> Manifest:
    kube_dns = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
    ports = [{"protocol": protocol, "port": 53} for protocol in ("UDP", "TCP")]
    return policy(env, "allow-dns", dict(env.labels), {}, egress=[{"to": [kube_dns], "ports": ports}])


def service_traffic(env: EnvironmentPlan, service: ServicePlan) -> Manifest:
    """`<service>-traffic`: the suffix keeps it apart from the shared policies whatever the service is called."""
    ingress = []
    if service.callers and service.port:
        callers = [{"podSelector": {"matchLabels": dict(env.service(name).selector)}} for name in service.callers]
        ingress.append({"from": callers, "ports": tcp(service.port)})
    if service.public_host and service.port:
        subnets = [{"ipBlock": {"cidr": cidr}} for cidr in env.network.public_subnets]
        ingress.append({"from": subnets, "ports": tcp(service.port)})
    egress = []
    for callee in (env.service(name) for name in service.calls):
        if callee.port:  # always: only a web service, which listens, can be called
            egress.append({"to": [{"podSelector": {"matchLabels": dict(callee.selector)}}], "ports": tcp(callee.port)})
    for name in service.uses:
        egress.append({"to": private_subnets(env), "ports": tcp(env.datastore(name).port)})
    egress += declared_egress(env, service)
    document = policy(env, f"{service.name}-traffic", dict(service.labels), dict(service.selector), ingress, egress)
    if egress_annotations(service):
        document["metadata"]["annotations"] = egress_annotations(service)
    return document


def metrics_scrape(env: EnvironmentPlan, service: ServicePlan, port: int) -> Manifest:
    """`<service>-metrics`: Prometheus, from the monitoring stack's namespace, on the service port only."""
    return policy(env, f"{service.name}-metrics", dict(service.labels), dict(service.selector),
                  ingress=[scraped_from_monitoring(env, port)])


def scraped_from_monitoring(env: EnvironmentPlan, port: int) -> Manifest:
    """An ingress rule: Prometheus, from the monitoring stack's namespace, on `port`."""
    namespace = env.monitoring_stack.namespace
    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
    return {"from": [monitoring], "ports": tcp(port)}


def private_subnets(env: EnvironmentPlan) -> list[Manifest]:
    """The peers RDS and ElastiCache live in."""
    return [{"ipBlock": {"cidr": cidr}} for cidr in env.network.private_subnets]


def bootstrap_traffic(env: EnvironmentPlan, bootstrap: DatabaseBootstrap) -> Manifest:
    """`<store>-bootstrap-traffic`: nothing in; out only to the store's port in the private subnets, to HTTPS
    outside the VPC (the RDS and Secrets Manager APIs, through the NAT) and to the node's Pod Identity agent.
    DNS comes from `allow-dns`, like every pod's."""
    store = env.datastore(bootstrap.store)
    agent, agent_port = POD_IDENTITY_AGENT
    egress = [
        {"to": private_subnets(env), "ports": tcp(store.port)},
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [env.network.cidr]}}], "ports": tcp(443)},
        {"to": [{"ipBlock": {"cidr": agent}}], "ports": tcp(agent_port)},
    ]
    return policy(env, f"{bootstrap.name}-traffic", dict(bootstrap.labels), dict(bootstrap.selector),
                  ingress=[], egress=egress)
