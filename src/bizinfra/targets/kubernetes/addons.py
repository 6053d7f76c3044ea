"""Manifests read by the cluster add-ons: External Secrets Operator, AWS Load Balancer Controller, Velero."""

from __future__ import annotations

import json

from bizinfra.plan import INGRESS_CLASS, LOAD_BALANCER_LOG_PREFIX, EnvironmentPlan, ServicePlan, load_balancer_name
from bizinfra.targets.kubernetes.common import SECRET_STORE, Manifest, metadata

# AWS's recommended TLS policy for Application Load Balancers (TLS 1.3 and 1.2 only):
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def secret_store(env: EnvironmentPlan) -> Manifest:
    """AWS Secrets Manager in the platform's region. No `auth`: the operator's own ServiceAccount gets its
    IAM role from EKS Pod Identity (Terraform associates it). Only the platform's namespace may use it."""
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": SECRET_STORE, "labels": dict(env.labels)},
        "spec": {
            "provider": {"aws": {"service": "SecretsManager", "region": env.region}},
            "conditions": [{"namespaces": [env.namespace]}],
        },
    }


def external_secret(env: EnvironmentPlan, service: ServicePlan) -> Manifest:
    """Fills the service's Secret from Secrets Manager, one key per secret variable; values never pass through here."""
    data = []
    for ref in service.secrets:
        remote = {"key": ref.key, **({"property": ref.property} if ref.property else {})}
        data.append({"secretKey": ref.variable, "remoteRef": remote})
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": metadata(env, service.secret_name, service.labels),
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": SECRET_STORE},
            "target": {"name": service.secret_name, "creationPolicy": "Owner"},
            "data": data,
        },
    }


def ingress_class(env: EnvironmentPlan) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": INGRESS_CLASS, "labels": dict(env.labels)},
        "spec": {"controller": "ingress.k8s.aws/alb"},
    }


def ingress(env: EnvironmentPlan, public: list[ServicePlan]) -> Manifest:
    """One internet-facing ALB for every public host. Target type `ip`: the ALB sends straight to pod IPs, which
    is why the NetworkPolicies admit the public subnets. No certificate ARN: the controller discovers the ACM
    certificate covering each host."""
    hosts = [service.public_host for service in public if service.public_host]
    attributes = {
        "access_logs.s3.enabled": "true",
        "access_logs.s3.bucket": env.log_bucket,
        "access_logs.s3.prefix": LOAD_BALANCER_LOG_PREFIX,
        "routing.http.drop_invalid_header_fields.enabled": "true",
    }
    annotations = {
        "alb.ingress.kubernetes.io/scheme": "internet-facing",
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/load-balancer-name": load_balancer_name(env),
        # Terraform's security group for the load balancer (by Name tag): it is the one the nodes admit on
        # the service ports, so the controller adds no rules of its own.
        "alb.ingress.kubernetes.io/security-groups": env.load_balancer_security_group,
        "alb.ingress.kubernetes.io/manage-backend-security-group-rules": "false",
        "alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTP": 80}, {"HTTPS": 443}]),
        "alb.ingress.kubernetes.io/ssl-redirect": "443",
        "alb.ingress.kubernetes.io/ssl-policy": TLS_POLICY,
        "alb.ingress.kubernetes.io/load-balancer-attributes": ",".join(f"{k}={v}" for k, v in attributes.items()),
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata(env, env.namespace, env.labels, annotations),
        "spec": {
            "ingressClassName": INGRESS_CLASS,
            "tls": [{"hosts": hosts}],
            "rules": [ingress_rule(service) for service in public],
        },
    }


def ingress_rule(service: ServicePlan) -> Manifest:
    backend = {"service": {"name": service.name, "port": {"number": service.port}}}
    return {"host": service.public_host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}


def backup_schedule(env: EnvironmentPlan) -> Manifest:
    """Velero backs up the platform's namespace; the data stores live outside the cluster and have their own
    backups, so there are no volumes to snapshot."""
    velero = next(identity for identity in env.identities if identity.name == "velero")
    return {
        "apiVersion": "velero.io/v1",
        "kind": "Schedule",
        "metadata": {"name": f"{env.namespace}-backup", "namespace": velero.namespace, "labels": dict(env.labels)},
        "spec": {
            "schedule": env.backup_schedule,
            "useOwnerReferencesInBackup": False,
            "template": {
                "includedNamespaces": [env.namespace],
                "snapshotVolumes": False,
                "ttl": f"{env.backup_keep_days * 24}h0m0s",
            },
        },
    }
