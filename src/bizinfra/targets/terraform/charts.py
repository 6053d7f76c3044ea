"""The one table of what the cluster add-ons' stack installs: each Helm chart at its pinned version, the images
pinned beside it, and where each fact was read.

Bumping a chart means changing its row here and vendoring its `values.yaml` (and `values.schema.json`, when the
chart publishes one) under `data/reference/charts/<chart>-<version>/`: the values check refuses a release whose
chart version has no vendored files, so a bump cannot skip the check.
"""

from __future__ import annotations

from dataclasses import dataclass

from bizinfra.naming import CLUSTER_AUTOSCALER, EXTERNAL_SECRETS, LOAD_BALANCER_CONTROLLER, VELERO

# hashicorp/helm, pinned exactly: its resource and provider schema is transcribed from this version's source
# (data/reference/helm-provider/), and 3.x changed the provider's `kubernetes` and a release's `set` from blocks to
# attributes, so another version is not known to accept these files.
HELM_PROVIDER_VERSION = "3.1.2"


@dataclass(frozen=True)
class Chart:
    """A chart at its pinned version. `service_account` is the path in its values of the ServiceAccount name it runs
    as, for the add-ons that get an AWS role through EKS Pod Identity; `identity` names that identity. `serves` are
    the API groups of the CRDs the chart installs, which the manifests' custom resources need."""

    name: str
    repository: str
    version: str
    app_version: str
    source: str  # the upstream repository, tag and path its vendored values were read from
    serves: tuple[str, ...]
    identity: str | None = None
    service_account: tuple[str, ...] = ()


LOAD_BALANCER_CONTROLLER_CHART = Chart(
    "aws-load-balancer-controller", "https://aws.github.io/eks-charts", "3.5.0", "v3.5.0",
    "aws/eks-charts @ v0.0.242 (5239609242f3430be50fb0b714a24d3ef2b47983) stable/aws-load-balancer-controller",
    ("elbv2.k8s.aws",), LOAD_BALANCER_CONTROLLER, ("serviceAccount", "name"))
EXTERNAL_SECRETS_CHART = Chart(
    "external-secrets", "https://charts.external-secrets.io", "2.9.0", "v2.9.0",
    "external-secrets/external-secrets @ helm-chart-2.9.0 (cc5bfbc2234ace9cb0caff4ea89c435cf517b27b) "
    "deploy/charts/external-secrets",
    ("external-secrets.io", "generators.external-secrets.io"), EXTERNAL_SECRETS, ("serviceAccount", "name"))
VELERO_CHART = Chart(
    "velero", "https://vmware-tanzu.github.io/helm-charts", "12.1.0", "1.18.1",
    "vmware-tanzu/helm-charts @ velero-12.1.0 (73466ca986bbfe34dbd5c30bbf7d62d545d634a2) charts/velero",
    ("velero.io",), VELERO, ("serviceAccount", "server", "name"))
CLUSTER_AUTOSCALER_CHART = Chart(
    "cluster-autoscaler", "https://kubernetes.github.io/autoscaler", "9.59.0", "1.35.0",
    "kubernetes/autoscaler @ cluster-autoscaler-chart-9.59.0 (5a0b98e45f896e98132737240ac131a519d3b33d) "
    "cluster-autoscaler/charts/cluster-autoscaler",
    (), CLUSTER_AUTOSCALER, ("rbac", "serviceAccount", "name"))
MONITORING_STACK_CHART = Chart(
    "kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts", "88.5.3", "v0.93.1",
    "prometheus-community/helm-charts @ kube-prometheus-stack-88.5.3 (ea930baeebeba39f56d6b44e351f23b2a072a600) "
    "charts/kube-prometheus-stack",
    ("monitoring.coreos.com",))

CHARTS = (LOAD_BALANCER_CONTROLLER_CHART, EXTERNAL_SECRETS_CHART, VELERO_CHART, CLUSTER_AUTOSCALER_CHART,
          MONITORING_STACK_CHART)

# Velero's object store and volume snapshotter for AWS, an init container of the Velero chart: v1.14.x is the row of
# Velero 1.18.x in its compatibility matrix (vmware-tanzu/velero-plugin-for-aws README @ v1.14.0-rc.1, 673d828).
VELERO_AWS_PLUGIN_IMAGE = "velero/velero-plugin-for-aws:v1.14.0"
# The Cluster Autoscaler's minor must match the cluster's (its README's "Releases"): chart 9.59.0 defaults to 1.35.0,
# the EKS version is 1.34 (terraform/settings.py KUBERNETES_VERSION), so the image is the last 1.34 release
# (kubernetes/autoscaler tag cluster-autoscaler-1.34.5).
CLUSTER_AUTOSCALER_IMAGE_TAG = "v1.34.5"


def chart(name: str) -> Chart:
    return next(entry for entry in CHARTS if entry.name == name)
