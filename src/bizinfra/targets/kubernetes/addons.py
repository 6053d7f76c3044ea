"""Manifests read by the cluster add-ons: External Secrets Operator, AWS Load Balancer Controller, Velero."""

from __future__ import annotations

from bizinfra.naming import VELERO, VELERO_STORAGE_LOCATION
from bizinfra.plan import EnvironmentPlan, PullSecretPlan, ServicePlan, target_group_name
from bizinfra.targets.kubernetes.common import SECRET_STORE, Manifest, metadata
from bizinfra.targets.kubernetes.connections import connection_templates
from bizinfra.targets.monitoring import receivers_secret_name


def secret_store(env: EnvironmentPlan) -> Manifest:
    """AWS Secrets Manager in the platform's region. No `auth`: the operator's own ServiceAccount gets its
    IAM role from EKS Pod Identity (Terraform associates it). Only the platform's namespace may use it, and the
    monitoring stack's when Alertmanager has receivers to read."""
    namespaces = list(dict.fromkeys([env.namespace, *([env.monitoring_stack.namespace] if env.alerting.receivers
                                                      else [])]))
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": SECRET_STORE, "labels": dict(env.labels)},
        "spec": {
            "provider": {"aws": {"service": "SecretsManager", "region": env.region}},
            "conditions": [{"namespaces": namespaces}],
        },
    }


def secret_store_ref() -> Manifest:
    return {"kind": "ClusterSecretStore", "name": SECRET_STORE}


def external_secret(env: EnvironmentPlan, service: ServicePlan) -> Manifest:
    """Fills the service's Secret from Secrets Manager, one key per secret variable, and beside them the connection
    strings composed from them (`Merge` keeps the parts); values never pass through here."""
    data = []
    for ref in service.secrets:
        remote = {"key": ref.key, **({"property": ref.property} if ref.property else {})}
        data.append({"secretKey": ref.variable, "remoteRef": remote})
    target: Manifest = {"name": service.secret_name, "creationPolicy": "Owner"}
    templates = connection_templates(env, service)
    if templates:
        target["template"] = {"engineVersion": "v2", "mergePolicy": "Merge", "data": templates}
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": metadata(env, service.secret_name, service.labels),
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": secret_store_ref(),
            "target": target,
            "data": data,
        },
    }


def alert_receivers_secret(env: EnvironmentPlan) -> Manifest:
    """The one Secret Alertmanager mounts (`receivers_secret_name`), in the monitoring stack's namespace: one key per
    receiver, its URL, routing key or password from the receiver's Secrets Manager secret."""
    name = receivers_secret_name(env)
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": env.monitoring_stack.namespace, "labels": dict(env.labels)},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": secret_store_ref(),
            "target": {"name": name, "creationPolicy": "Owner"},
            "data": [{"secretKey": receiver.name, "remoteRef": {"key": receiver.secret,
                                                                 "property": receiver.secret_property}}
                     for receiver in env.alerting.receivers],
        },
    }


# The dockerconfigjson the kubelet reads: `auth` is base64 of `username:token`, made by the operator's template
# engine from the two keys, so the token never passes through bizinfra or git.
DOCKER_CONFIG = '{{"auths":{{"{host}":{{"auth":"{{{{ printf "%s:%s" .username .token | b64enc }}}}"}}}}}}'


def pull_secret(env: EnvironmentPlan, secret: PullSecretPlan) -> Manifest:
    """The registry's read-only token as the image pull Secret the services' pods name; a person stores the token
    once in Secrets Manager (`username`, `token`), Terraform makes the secret's empty shell."""
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": metadata(env, secret.name),
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": secret_store_ref(),
            "target": {"name": secret.name, "creationPolicy": "Owner", "template": {
                "type": "kubernetes.io/dockerconfigjson",
                "engineVersion": "v2",
                "data": {".dockerconfigjson": DOCKER_CONFIG.format(host=secret.host)},
            }},
            "data": [{"secretKey": key, "remoteRef": {"key": secret.credentials, "property": key}}
                     for key in ("username", "token")],
        },
    }


def target_group_binding(env: EnvironmentPlan, service: ServicePlan) -> Manifest:
    """Joins the service's pods to the load balancer target group Terraform made for it, found by name
    (`plan.target_group_name`): the controller registers pod IPs as they come and go. No `networking`: Terraform's
    security groups already let the load balancer reach the nodes on this port."""
    return {
        "apiVersion": "elbv2.k8s.aws/v1beta1",
        "kind": "TargetGroupBinding",
        "metadata": metadata(env, service.name, service.labels),
        "spec": {
            "serviceRef": {"name": service.name, "port": service.port},
            "targetGroupName": target_group_name(env, service),
            "targetType": "ip",
        },
    }


def backup_schedule(env: EnvironmentPlan) -> Manifest:
    """Velero backs up the platform's namespace; the data stores live outside the cluster and have their own
    backups, so there are no volumes to snapshot."""
    velero = next(identity for identity in env.identities if identity.name == VELERO)
    return {
        "apiVersion": "velero.io/v1",
        "kind": "Schedule",
        "metadata": {"name": f"{env.namespace}-backup", "namespace": velero.namespace, "labels": dict(env.labels)},
        "spec": {
            "schedule": env.backups.schedule,
            "useOwnerReferencesInBackup": False,
            "template": {
                "includedNamespaces": [env.namespace],
                "storageLocation": VELERO_STORAGE_LOCATION,
                "snapshotVolumes": False,
                "ttl": f"{env.backups.keep_days * 24}h0m0s",
            },
        },
    }
