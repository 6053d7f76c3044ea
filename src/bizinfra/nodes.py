"""The EC2 instance types a spec may run its Kubernetes nodes on, as nodes of the EKS AMI: how many pods each takes
and how much CPU and memory it gives them (data/reference/nodes/, sources in its SOURCES.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

# The EKS AMI's kubelet evicts below this much free memory (nodeadm `evictionHard: memory.available: 100Mi`):
# the scheduler never gives it out.
EVICTION_MIB = 100


@dataclass(frozen=True)
class NodeType:
    """An EC2 instance type as a Kubernetes node of the EKS AMI (data/reference/nodes/instance-types.json)."""

    name: str
    vcpus: int
    memory_mib: int
    enis: int  # network interfaces on the default card
    ipv4_per_eni: int

    @property
    def max_pods(self) -> int:
        """The VPC CNI gives each pod an address of a secondary IP: ENIs x (addresses per ENI - 1), plus 2 for the
        host-network pods (nodeadm `calculateStandardMaxPods`)."""
        return self.enis * (self.ipv4_per_eni - 1) + 2

    @property
    def allocatable_millicores(self) -> int:
        """The CPU less kube-reserved: 6% of the first core, 1% of the second, 0.5% of the next two, 0.25% above
        four (nodeadm `getCPUMillicoresToReserve`)."""
        total = self.vcpus * 1000
        bands = ((0, 1000, 600), (1000, 2000, 100), (2000, 4000, 50), (4000, max(total, 4000), 25))
        reserved = sum((min(total, end) - start) * share // 10000 for start, end, share in bands if total > start)
        return total - reserved

    @property
    def allocatable_mib(self) -> int:
        """The memory less kube-reserved (11 MiB per pod it may run, plus 255 MiB: nodeadm
        `getMemoryMebibytesToReserve`) and the hard eviction threshold."""
        return self.memory_mib - (11 * self.max_pods + 255) - EVICTION_MIB


@cache
def node_types() -> dict[str, NodeType]:
    text = (resources.files("bizinfra") / "data" / "reference" / "nodes" / "instance-types.json").read_text("utf-8")
    rows = json.loads(text)["instance_types"]
    return {name: NodeType(name, **row) for name, row in rows.items()}
