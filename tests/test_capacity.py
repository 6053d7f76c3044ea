"""The capacity check: the node arithmetic against the EKS AMI's published numbers and a second calculation, and the
loader refusing exactly the platforms whose release peak does not fit."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bizinfra.nodes import node_types
from bizinfra.plan import SLOT_LABEL, resolve
from bizinfra.plan.capacity import ADDON_PODS, BOOTSTRAP, EXPORTER
from bizinfra.spec.loader import SpecError, load_specs, parse_spec
from bizinfra.spec.models import Platform
from bizinfra.targets.kubernetes.workloads import deployment
from bizinfra.targets.terraform.addon_versions import EKS_ADDONS
from bizinfra.targets.terraform.charts import CHARTS
from tests.strategies import platforms

SPECS = Path(__file__).resolve().parents[1] / "specs"


def test_the_pod_limits_are_the_eks_amis() -> None:
    """Rows of the EKS AMI's eni-max-pods.txt, which its calculator's formula reproduces."""
    published = {"t3.micro": 4, "t3.small": 11, "t3.medium": 17, "t3.large": 35, "m5.large": 29, "m5.xlarge": 58,
                 "m5.4xlarge": 234, "c6g.medium": 8, "r6i.2xlarge": 58}
    assert {name: node_types()[name].max_pods for name in published} == published


def reserved_millicores(vcpus: int) -> Fraction:
    """kube-reserved CPU as the EKS AMI documents it: 6% of the first core, 1% of the next, 0.5% of the next 2,
    0.25% of any cores above 4."""
    share = (Fraction(6, 100) * min(vcpus, 1) + Fraction(1, 100) * min(max(vcpus - 1, 0), 1)
             + Fraction(5, 1000) * min(max(vcpus - 2, 0), 2) + Fraction(25, 10000) * max(vcpus - 4, 0))
    return share * 1000


@given(st.sampled_from(sorted(node_types())))
def test_allocatable_cpu_and_memory_follow_the_eks_ami_formulas(name: str) -> None:
    node = node_types()[name]
    assert node.allocatable_millicores == node.vcpus * 1000 - math.floor(reserved_millicores(node.vcpus))
    assert node.allocatable_mib == node.memory_mib - (11 * node.max_pods + 255) - 100
    assert node.allocatable_mib > 0


def test_every_addon_the_stacks_install_has_its_pods_counted() -> None:
    assert set(ADDON_PODS) == set(EKS_ADDONS) | {chart.name for chart in CHARTS}


def test_the_bundled_specs_fit_with_their_defaults() -> None:
    assert {spec.platform.name for spec in load_specs(SPECS)} == {"business-app", "shop", "tasks"}



@given(platforms())
def test_the_release_surge_counted_is_the_one_the_deployments_roll_with(platform: Platform) -> None:
    """Which services run two slots and how many pods a release adds are plan facts (ServicePlan.slotted, .surge),
    read by the check, the manifests and the deploy job: counted again here from the Deployments themselves."""
    for env in resolve(platform, "spec.yaml").on("kubernetes"):
        for service in env.services:
            documents = [deployment(env, service, name) for name in service.deployments]
            slots = {d["spec"]["template"]["metadata"]["labels"].get(SLOT_LABEL) for d in documents} - {None}
            assert service.slotted == (len(slots) == 2) == (env.rollout == "blue-green" and service.kind == "web")
            for document in documents:
                percent = int(document["spec"]["strategy"]["rollingUpdate"]["maxSurge"].rstrip("%"))
                low = service.replicas.min
                assert service.surge == (low if slots else -(-low * percent // 100))

# -- the loader against an independent count --------------------------------------------------------------------

ADDON_WORKLOADS = sum(pods.count for table in ADDON_PODS.values() for pods in table if not pods.per_node)
DAEMONS = [pods for table in ADDON_PODS.values() for pods in table if pods.per_node]


@st.composite
def sized_specs(draw: st.DrawFn) -> dict[str, Any]:
    services = {}
    store = draw(st.booleans())
    for index in range(draw(st.integers(1, 6))):
        low = draw(st.integers(1, 5))
        kind = draw(st.sampled_from(["web", "web", "worker", "cron"]))
        services[f"svc{index}"] = {
            **({"port": 3000 + index} if kind != "cron" else {"kind": "cron", "schedule": "0 3 * * *"}),
            **({"kind": "worker"} if kind == "worker" else {}),
            **({"replicas": {"min": low, "max": low + draw(st.integers(0, 3))}} if kind != "cron" else {}),
            "resources": {"cpu": draw(st.sampled_from(["50m..500m", "250m..1", "1..2", "2..2"])),
                          "memory": draw(st.sampled_from(["128Mi..256Mi", "512Mi..1Gi", "2Gi..4Gi"]))},
            "uses": ["db"] if store and index == 0 else [],
        }
    return {
        "name": "shop", "domain": "shop.example.com", "services": services,
        "datastores": {"db": {"engine": "postgres", "version": "16"}} if store else {},
        "environments": {"production": {
            "branch": "main", "rollout": draw(st.sampled_from(["rolling", "blue-green"])),
            "nodes": {"min": 1, "max": draw(st.integers(1, 12))},
            "sizes": {"node": draw(st.sampled_from(["t3.medium", "t3.large", "m5.large", "c6i.xlarge", "r5.2xlarge"]))},
        }},
    }


def cpu_millicores(text: str) -> int:
    return int(text[:-1]) if text.endswith("m") else int(text) * 1000


def memory_mib(text: str) -> int:
    return int(text[:-2]) * (1024 if text.endswith("Gi") else 1)


def fits_on(spec: dict[str, Any], nodes: int) -> bool:
    """The check, counted again from the spec: pod slots, CPU and memory requests per node and in all."""
    env = spec["environments"]["production"]
    node = node_types()[env["sizes"]["node"]]
    pods, cpu, memory = ADDON_WORKLOADS, 0, 0
    requests = []
    for service in spec["services"].values():
        kind = service.get("kind", "web")
        low = service["replicas"]["min"] if kind != "cron" else 1
        if kind == "cron":  # one run at a time
            count = 1
        elif kind == "web" and env["rollout"] == "blue-green":  # a whole second slot
            count = 2 * low
        else:  # maxSurge 25%, rounded up: workers roll in place in blue-green too
            count = low + -(-low // 4)
        request = (cpu_millicores(service["resources"]["cpu"].split("..")[0]),
                   memory_mib(service["resources"]["memory"].split("..")[0]))
        pods, cpu, memory = pods + count, cpu + count * request[0], memory + count * request[1]
        requests.append(request)
    if spec["datastores"]:  # its exporter and its bootstrap Job
        pods += 2
        cpu += EXPORTER[0] + BOOTSTRAP[0]
        memory += EXPORTER[1] + BOOTSTRAP[1]
    for table in ADDON_PODS.values():
        for each in table:
            if not each.per_node:
                cpu, memory = cpu + each.count * each.millicores, memory + each.count * each.mib
    node_cpu = node.allocatable_millicores - sum(each.millicores for each in DAEMONS)
    node_memory = node.allocatable_mib - sum(each.mib for each in DAEMONS)
    if any(c > node_cpu or m > node_memory for c, m in requests):
        return False
    return pods <= nodes * (node.max_pods - len(DAEMONS)) and cpu <= nodes * node_cpu and memory <= nodes * node_memory


def with_nodes(spec: dict[str, Any], nodes: int) -> str:
    spec["environments"]["production"]["nodes"]["max"] = nodes
    return yaml.safe_dump(spec, sort_keys=False)


@given(sized_specs())
def test_the_loader_accepts_from_exactly_the_nodes_the_independent_count_needs(spec: dict[str, Any]) -> None:
    """At the fewest nodes that fit the spec is accepted; one fewer is refused at nodes, saying how many it needs."""
    needed = next((nodes for nodes in range(1, 1001) if fits_on(spec, nodes)), None)
    if needed is None:  # one node is too small for a pod or for the DaemonSets: refused at the node type
        with pytest.raises(SpecError) as refused:
            parse_spec(with_nodes(spec, 1000), "specs/shop.yaml")
        assert {problem.path for problem in refused.value.problems} == {"environments.production.sizes.node"}
        return
    parse_spec(with_nodes(spec, needed), "specs/shop.yaml")
    if needed > 1:
        text = with_nodes(spec, needed - 1)
        with pytest.raises(SpecError) as refused:
            parse_spec(text, "specs/shop.yaml")
        nodes_line = next(number for number, line in enumerate(text.splitlines(), 1) if line.strip() == "nodes:")
        assert {(problem.path, problem.line) for problem in refused.value.problems} == \
            {("environments.production.nodes", nodes_line)}
        assert max(int(problem.message.rsplit(" ", 1)[1]) for problem in refused.value.problems) == needed
