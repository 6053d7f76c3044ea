"""A service's declared egress as NetworkPolicy rules: what it calls outside the platform, and nothing more.

A NetworkPolicy matches addresses, not host names, and api.stripe.com's addresses are not ours to know. So a
service that declares external hosts may reach any address outside the private ranges (naming.PRIVATE_RANGES:
never the VPC, its data stores, other pods or instance metadata), and only on the ports its hosts use. Nothing in
the cluster holds it to the host names themselves: that takes an egress proxy or a CNI with FQDN policies (Cilium,
Calico Enterprise), which EKS's VPC CNI is not. The hosts are written in the policy's annotation, in
docs/architecture.md and in the spec, where a review sees them.

AWS APIs are reached the same way, on 443: S3 (and DynamoDB) through the VPC's gateway endpoints, which are free
and keep the traffic off the NAT gateway, though its addresses are still S3's public ones; the others through NAT.
Credentials come from the node's EKS Pod Identity agent.
"""

from __future__ import annotations

import ipaddress

from bizinfra.naming import POD_IDENTITY_AGENT, PRIVATE_RANGES
from bizinfra.plan import EnvironmentPlan, ServicePlan
from bizinfra.targets.kubernetes.common import Manifest


def declared_egress(env: EnvironmentPlan, service: ServicePlan) -> list[Manifest]:
    """The rules its `egress` (and its buckets) add to its traffic policy."""
    rules: list[Manifest] = []
    if service.egress_ports:
        rules.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": outside_ranges(env)}}],
                      "ports": [{"protocol": "TCP", "port": port} for port in service.egress_ports]})
    if service.aws_services:
        agent, port = POD_IDENTITY_AGENT
        rules.append({"to": [{"ipBlock": {"cidr": agent}}], "ports": [{"protocol": "TCP", "port": port}]})
    return rules


def outside_ranges(env: EnvironmentPlan) -> list[str]:
    """The ranges a declared egress never reaches: the private ones, and the VPC's own when it is not among them."""
    vpc = ipaddress.ip_network(env.network.cidr)
    private = [ipaddress.ip_network(block) for block in PRIVATE_RANGES]
    extra = [] if any(vpc.subnet_of(block) for block in private) else [env.network.cidr]  # type: ignore[arg-type]
    return sorted([*PRIVATE_RANGES, *extra])


EGRESS_ANNOTATION = "bizinfra.dev/egress"


def egress_annotations(service: ServicePlan) -> dict[str, str]:
    """What its egress rules stand for, in the spec's words (`api.stripe.com:443, s3, sqs`), for a reviewer."""
    targets = [f"{host.host}:{host.port}" for host in service.external_hosts] + list(service.aws_services)
    return {EGRESS_ANNOTATION: ", ".join(targets)} if targets else {}
