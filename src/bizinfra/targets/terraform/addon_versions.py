"""Pinned versions of what the cluster runs besides the services, one table per kind, each version beside its source.

EKS add-ons are here; Helm charts belong in a table of their own beside this one. A fresh `terraform apply` then
installs what the tests and the vendored schemas were checked against, never whatever is newest that day. The
sources are detailed in `data/reference/addons/SOURCES.md`.
"""

from __future__ import annotations

from dataclasses import dataclass

# The Kubernetes version the EKS add-on pins were chosen for; tests fail when settings.KUBERNETES_VERSION moves
# without them.
EKS_ADDONS_PINNED_FOR = "1.34"


@dataclass(frozen=True)
class Pin:
    version: str
    source: str


EKS_ADDONS: dict[str, Pin] = {
    "vpc-cni": Pin("v1.20.4-eksbuild.1", "EKS User Guide, Amazon VPC CNI version table, row 1.34"),
    "coredns": Pin("v1.13.2-eksbuild.7", "EKS User Guide, CoreDNS version table, row 1.34"),
    "kube-proxy": Pin("v1.34.6-eksbuild.2", "EKS User Guide, kube-proxy version table, row 1.34"),
    "eks-pod-identity-agent": Pin("v1.3.10-eksbuild.2", "aws eks describe-addon-versions, Kubernetes 1.34"),
    "aws-ebs-csi-driver": Pin("v1.63.0-eksbuild.1", "aws eks describe-addon-versions, Kubernetes 1.34 "
                              "(Helm chart 2.63.0)"),
    "metrics-server": Pin("v0.9.0-eksbuild.5", "aws eks describe-addon-versions, Kubernetes 1.34 (community add-on)"),
    "amazon-cloudwatch-observability": Pin("v6.4.0-eksbuild.1", "aws eks describe-addon-versions, Kubernetes 1.34 "
                                           "(Helm chart 6.4.0)"),
}
