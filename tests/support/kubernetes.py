"""Helpers for the Kubernetes tests: compile a platform's manifests, write them out, and read them back as a
model of what the cluster would enforce (which pods a selector picks, which connections the policies allow)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bizinfra.plan import resolve
from bizinfra.render import render
from bizinfra.spec.models import Platform
from bizinfra.targets.kubernetes import compile_kubernetes

Document = dict[str, Any]
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def rendered(platform: Platform, source: str = "spec.yaml") -> dict[str, bytes]:
    """The Kubernetes files of a platform, by path, as the writer would write them."""
    plan = resolve(platform, source)
    return {artifact.path: render(artifact, source) for artifact in compile_kubernetes(plan)}


def write(files: Mapping[str, bytes], root: Path) -> list[Path]:
    """Write the files under root; return the environment folders (`kubernetes/<env>/`, each holding a
    kustomization; a subfolder with its own, such as `migrations/`, is validated with its environment's)."""
    for path, data in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return sorted({(root / path).parent for path in files
                   if path.endswith("/kustomization.yaml") and (root / path).parent.parent.name == "kubernetes"})


def environments(files: Mapping[str, bytes]) -> dict[str, list[Document]]:
    """Every manifest (kustomization excluded), parsed back from the bytes, by environment."""
    result: dict[str, list[Document]] = {}
    for path, data in sorted(files.items()):
        env = path.split("/")[1]
        if path.endswith(".yaml") and not path.endswith("kustomization.yaml"):
            result.setdefault(env, []).extend(d for d in yaml.load_all(data, Loader=_Loader) if d is not None)
    return result


def kustomization(files: Mapping[str, bytes], env: str) -> Document:
    document: Document = yaml.safe_load(files[f"kubernetes/{env}/kustomization.yaml"])
    return document


def of_kind(documents: list[Document], kind: str) -> list[Document]:
    return [d for d in documents if d["kind"] == kind]


def named(documents: list[Document], kind: str, name: str) -> Document:
    (document,) = [d for d in of_kind(documents, kind) if d["metadata"]["name"] == name]
    return document


def matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


@dataclass(frozen=True)
class Pod:
    """A pod template, as the policies see it: its namespace, its labels and the Deployment (or Job) it belongs to."""

    deployment: str
    namespace: str
    labels: Mapping[str, str]


def pods(documents: list[Document]) -> list[Pod]:
    """The pod templates of the Deployments, of the Jobs (the database bootstraps) and of the CronJobs."""
    templates = [(d, d["spec"]["template"]) for d in of_kind(documents, "Deployment") + of_kind(documents, "Job")]
    templates += [(d, d["spec"]["jobTemplate"]["spec"]["template"]) for d in of_kind(documents, "CronJob")]
    return [Pod(d["metadata"]["name"], d["metadata"]["namespace"], template["metadata"]["labels"])
            for d, template in templates]


# What a peer of a NetworkPolicy rule names, in the tests' own words.
DNS = "dns"
PUBLIC_SUBNETS = "public-subnets"
PRIVATE_SUBNETS = "private-subnets"
MONITORING = "monitoring"
OUTSIDE_THE_VPC = "outside-the-vpc"  # every address but the VPC's: AWS APIs, through the NAT
POD_IDENTITY_AGENT = "pod-identity-agent"  # EKS Pod Identity's credentials endpoint on the node
INTERNET = "internet"  # every address but the private ranges (and the VPC's): a service's declared egress
PRIVATE_RANGES = ["10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"]


@dataclass(frozen=True, order=True)
class Edge:
    """One allowed connection: `direction` ingress into / egress from the pods of `deployment`."""

    deployment: str
    direction: str
    peer: str  # a deployment name, or one of the constants above
    protocol: str
    port: int


def allowed_edges(documents: list[Document], public: list[str], private: list[str], vpc: str = "") -> set[Edge]:
    """Every connection the NetworkPolicies allow, per pod: pod peers resolved to Deployments, CIDR peers to
    the subnets they cover, namespaces by name. A peer the tests cannot name fails the test."""
    all_pods = pods(documents)
    edges = set()
    for policy in of_kind(documents, "NetworkPolicy"):
        spec = policy["spec"]
        selected = [p for p in all_pods if p.namespace == policy["metadata"]["namespace"]
                    and matches(spec["podSelector"].get("matchLabels", {}), p.labels)]
        for direction, key, peers_key in (("ingress", "ingress", "from"), ("egress", "egress", "to")):
            if direction.capitalize() not in spec["policyTypes"]:
                continue
            for rule in spec.get(key, []):
                for peer in _peers(rule[peers_key], all_pods, policy["metadata"]["namespace"], public, private, vpc):
                    for port in rule["ports"]:
                        edges |= {Edge(p.deployment, direction, peer, port["protocol"], port["port"]) for p in selected}
    return edges


def _outside(vpc: str) -> list[str]:
    """What a declared egress never reaches: the private ranges, and the VPC when it lies outside them."""
    inside = any(ipaddress.ip_network(vpc).subnet_of(ipaddress.ip_network(r)) for r in PRIVATE_RANGES)  # type: ignore[arg-type]
    return sorted(PRIVATE_RANGES + ([] if inside or not vpc else [vpc]))


def _peers(peers: list[Document], all_pods: list[Pod], namespace: str, public: list[str],
           private: list[str], vpc: str) -> Iterator[str]:
    for peer in peers:
        if peer.get("ipBlock") == {"cidr": "0.0.0.0/0", "except": [vpc]}:
            yield OUTSIDE_THE_VPC
        elif peer.get("ipBlock") == {"cidr": "0.0.0.0/0", "except": _outside(vpc)}:
            yield INTERNET
        elif peer.get("ipBlock") == {"cidr": "169.254.170.23/32"}:
            yield POD_IDENTITY_AGENT
        elif "ipBlock" in peer:
            network = ipaddress.ip_network(peer["ipBlock"]["cidr"])
            assert "except" not in peer["ipBlock"]
            if any(network == ipaddress.ip_network(c) for c in public):
                yield PUBLIC_SUBNETS
            elif any(network == ipaddress.ip_network(c) for c in private):
                yield PRIVATE_SUBNETS
            else:
                raise AssertionError(f"unexpected CIDR {network}")
        elif "namespaceSelector" in peer:
            names = peer["namespaceSelector"]["matchLabels"]
            assert list(names) == ["kubernetes.io/metadata.name"], peer
            if names["kubernetes.io/metadata.name"] == "kube-system":
                assert peer["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}, peer
                yield DNS
            else:
                assert "podSelector" not in peer, peer
                yield f"namespace:{names['kubernetes.io/metadata.name']}"
        else:
            chosen = [p.deployment for p in all_pods if p.namespace == namespace
                      and matches(peer["podSelector"]["matchLabels"], p.labels)]
            assert chosen, f"a policy peer selects no pod: {peer}"
            yield from chosen
