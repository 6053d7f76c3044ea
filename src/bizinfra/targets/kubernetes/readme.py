"""The README of an environment folder: what the cluster must run first, and how to apply and release."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bizinfra.plan import LIVE_SLOT, SLOT_LABEL, EnvironmentPlan
from bizinfra.targets.monitoring import receivers_secret_name

# The add-on releases whose CRDs the manifests are validated against (src/bizinfra/data/reference/crds/SOURCES.md).
ADDONS = (
    ("AWS Load Balancer Controller", "v3.5.0", "the TargetGroupBindings (`elbv2.k8s.aws/v1beta1`) that put the "
     "public services' pods behind Terraform's load balancer"),
    ("External Secrets Operator", "v2.9.0", "ClusterSecretStore and ExternalSecret, `external-secrets.io/v1`"),
    ("prometheus-operator", "v0.93.0", "Prometheus loading the PrometheusRule and scraping the PodMonitors' pods, and "
     "Grafana with its dashboard sidecar (the kube-prometheus-stack Helm chart)"),
    ("Velero", "v1.18.1", "Schedule, `velero.io/v1`"),
    ("metrics-server", "any", "the CPU and memory figures the HorizontalPodAutoscalers read: without it no "
     "HorizontalPodAutoscaler scales (the EKS `metrics-server` community add-on, or its Helm chart)"),
    ("Cluster Autoscaler", "matching the cluster's Kubernetes minor", "nodes between the environment's `nodes` "
     "bounds when pods cannot be scheduled"),
    ("Amazon VPC CNI with network policy enforcement", "any", "the NetworkPolicies (`enableNetworkPolicy: true`)"),
)


def readme(env: EnvironmentPlan, files: Sequence[tuple[str, Sequence[Any]]]) -> str:
    identities = "\n".join(f"- {i.name}: ServiceAccount `{i.namespace}/{i.service_account}`, IAM role `{i.role_name}`"
                           for i in env.identities)
    addons = "\n".join(f"| {name} | {version} | {what} |" for name, version, what in ADDONS)
    listing = "\n".join(f"- `{name}`: {', '.join(sorted({d['kind'] for d in documents}))}" for name, documents in files)
    return f"""# {env.platform}: Kubernetes manifests for {env.name}

Namespace `{env.namespace}` on the EKS cluster `{env.cluster_name}` ({env.region}).

## Add-ons the cluster must run first

| add-on | CRDs validated against | needed for |
|---|---|---|
{addons}

The public load balancer, its listener rules and its target groups are Terraform's (`public.tf.json`);
the AWS Load Balancer Controller only registers pod IPs in them, through the TargetGroupBindings.

Terraform installs the Helm releases, pinned, in a stack of its own applied after the environment's:
`terraform/{env.name}/addons/` (state `{env.deploy.addons_state_key}`), which finds the cluster
`{env.cluster_name}` by name and wires every value from the plan or from it. Those releases:
the AWS Load Balancer Controller, External Secrets Operator (with its CRDs), Velero (backups in
`{env.backups.bucket}`), the Cluster Autoscaler and the monitoring stack: the kube-prometheus-stack chart,
release `{env.monitoring_stack.release}` in the
`{env.monitoring_stack.namespace}` namespace, with its default selectors. Its Prometheus loads the PrometheusRule
and PodMonitors labelled
{labels_text(env.monitoring_stack.selector)} and scrapes from that namespace; its Grafana sidecar loads the
dashboard ConfigMap, which this folder puts in that namespace, labelled
{labels_text(env.monitoring_stack.dashboard_labels)}.

{alerting_notes(env)}

The add-ons that call AWS get their IAM role from EKS Pod Identity
(Terraform creates the roles and associations), so their ServiceAccounts need no annotation:

{identities}

## Apply, in this order

1. The add-ons above, with their CRDs (`terraform/{env.name}/addons/`): without them the API server rejects the
   custom resources.
2. The Secrets Manager secrets `secrets.yaml` names, with their values: External Secrets copies them in.
3. The folder, with a release's image tags set (below):

```sh
kubectl apply -k kubernetes/{env.name}
```

kustomize orders the objects (Namespace, ServiceAccounts, ConfigMaps, Services, then workloads). The files:

{listing}

## Release

The manifests carry a placeholder tag; a release sets the real one for each Deployment, then applies:

```sh
kustomize edit set image <deployment>=<image>:<tag>
```

To re-apply changed manifests without touching what runs, first copy every running image into the
kustomization (with the placeholder, a rollout would stall on an image that does not exist, old pods kept):

```sh
kubectl --namespace {env.namespace} get deployments --output \\
  jsonpath='{{range .items[*]}}{{.metadata.name}}={{.spec.template.spec.containers[0].image}}{{"\\n"}}{{end}}' \\
  | xargs kustomize edit set image
```

{release_notes(env)}
"""


def alerting_notes(env: EnvironmentPlan) -> str:
    """Where alerts go, and the one value per receiver a human stores: nothing else in the chain needs a hand."""
    config = f"monitoring/{env.name}/alertmanager.yml"
    if not env.alerting.receivers:
        return (f"Alerts reach nobody: the spec declares no `monitoring.receivers`, so `{config}` sends every alert to "
                "Alertmanager's `null` receiver.")
    secret = receivers_secret_name(env)
    rows = "\n".join(f"| {r.name} | {r.kind} | `{r.secret}` | `{r.secret_property}` |" for r in env.alerting.receivers)
    example = env.alerting.receivers[0]
    return f"""Alerts: the stack's Alertmanager runs `{config}` (the chart's `alertmanager.config`) and mounts the
Secret `{secret}` (`alertmanager.alertmanagerSpec.secrets: [{secret}]`), which `secrets.yaml` fills from
Secrets Manager, one key per receiver. Terraform creates each secret with its key empty; store each value once:

| receiver | kind | Secrets Manager secret | JSON key |
|---|---|---|---|
{rows}

```sh
aws secretsmanager put-secret-value --region {env.region} --secret-id {example.secret} \\
  --secret-string '{{"{example.secret_property}": "..."}}'
```

Until then Alertmanager runs, and tells nobody through that receiver."""


def labels_text(labels: Mapping[str, str]) -> str:
    return ", ".join(f'`{key}: "{value}"`' for key, value in labels.items())


def release_notes(env: EnvironmentPlan) -> str:
    if env.rollout != "blue-green":
        return "Deployments roll: a new pod must be ready before an old one stops."
    return f"""Blue-green: every service runs two Deployments, `<service>-blue` and `<service>-green`, whose pods carry
`{SLOT_LABEL}`. The deploy job, not these manifests, owns which slot is live: the Service's selector here
leaves the slot out, so re-applying never moves traffic; a Service without a slot counts as `{LIVE_SLOT}`.
A release goes to the idle slot: set its image, scale it up, wait for the rollout, smoke-test it, then
`kubectl patch service <service> -p '{{"spec":{{"selector":{{"{SLOT_LABEL}":"<slot>"}}}}}}'` and scale the other
slot to 0. See docs/kubernetes.md in bizinfra for the whole sequence."""
