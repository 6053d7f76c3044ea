"""Per data store, the Prometheus exporter that gives Prometheus what RDS and ElastiCache do not expose in the
cluster: postgres_exporter or redis_exporter, one pod each, with its ServiceAccount, its credentials from Secrets
Manager, a NetworkPolicy (scrapes in from the monitoring stack's namespace only; out to its store only, DNS
from `allow-dns`) and a PodMonitor labelled for the stack.

PostgreSQL: the exporter logs in as its own role (a member of `pg_monitor`, owning nothing), whose password
Terraform generates in its own secret and the bootstrap Job sets. Redis: the store's auth token, ElastiCache's one
user. Both speak TLS when the store requires it; the certificate names the AWS endpoint, not the private name the
exporter connects to, so it encrypts without checking the name, like the bootstrap Job's `sslmode=require`.
"""

from __future__ import annotations

from bizinfra.plan import SERVICE_NAME_LABEL, DatastorePlan, EnvironmentPlan, ExporterPlan
from bizinfra.targets.kubernetes.addons import secret_store_ref
from bizinfra.targets.kubernetes.common import Manifest, hardened_container, hardened_pod, metadata
from bizinfra.targets.kubernetes.network import policy, private_subnets, scraped_from_monitoring, tcp
from bizinfra.targets.monitoring import metrics as m
from bizinfra.targets.monitoring.scrape import SCRAPE_INTERVAL

# The upstream images (the projects' own registries, as their READMEs name them), pinned to a release like the
# bootstrap Job's (docs/kubernetes.md, CKV_K8S_43, on digests): postgres_exporter v0.20.1 and redis_exporter
# v1.88.0, the newest releases when this was written. Both run their static binary as any non-root user.
IMAGES = {
    "postgres": "quay.io/prometheuscommunity/postgres-exporter:v0.20.1",
    "redis": "oliver006/redis_exporter:v1.88.0",
}
# What answers without touching the store, so a store outage shows in the metrics (pg_up, redis_up: 0) instead of
# restarting the exporter: postgres_exporter's landing page, redis_exporter's health handler.
HEALTH_PATHS = {"postgres": "/", "redis": "/health"}
METRICS_PATH = "/metrics"


def exporter_documents(env: EnvironmentPlan) -> list[Manifest]:
    documents = []
    for exporter in env.exporters:
        store = env.datastore(exporter.store)
        documents += [service_account(env, exporter), credentials(env, exporter, store), deployment(env, exporter, store),
                      traffic(env, exporter, store), pod_monitor(env, exporter)]
    return documents


def service_account(env: EnvironmentPlan, exporter: ExporterPlan) -> Manifest:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(env, exporter.name, exporter.labels),
            "automountServiceAccountToken": False}  # it never calls the Kubernetes API


def secret_keys(exporter: ExporterPlan) -> dict[str, str]:
    """The exporter's variables read from its Secret, each a property of its Secrets Manager secret."""
    if exporter.engine == "postgres":
        return {"DATA_SOURCE_USER": "username", "DATA_SOURCE_PASS": "password"}
    return {"REDIS_PASSWORD": "password"}


def credentials(env: EnvironmentPlan, exporter: ExporterPlan, store: DatastorePlan) -> Manifest:
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": metadata(env, exporter.name, exporter.labels),
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": secret_store_ref(),
            "target": {"name": exporter.name, "creationPolicy": "Owner"},
            "data": [{"secretKey": variable, "remoteRef": {"key": exporter.credentials, "property": field}}
                     for variable, field in secret_keys(exporter).items()],
        },
    }


def connection(exporter: ExporterPlan, store: DatastorePlan) -> dict[str, str]:
    """Where the exporter finds its store, in its own variables (both exporters' documented environment)."""
    if exporter.engine == "postgres":
        # The `postgres` database, which every role may connect to; the services' databases refuse it.
        return {"DATA_SOURCE_URI": f"{store.host}:{store.port}/postgres?sslmode={'require' if store.tls else 'disable'}"}
    scheme = "rediss" if store.tls else "redis"
    return {"REDIS_ADDR": f"{scheme}://{store.host}:{store.port}",
            **({"REDIS_EXPORTER_SKIP_TLS_VERIFICATION": "true"} if store.tls else {})}


def deployment(env: EnvironmentPlan, exporter: ExporterPlan, store: DatastorePlan) -> Manifest:
    # One pod: a restart loses no data, and two would report every store metric twice.
    annotations = {m.SCRAPE_ANNOTATION: "true", m.PORT_ANNOTATION: str(exporter.port),
                   m.PATH_ANNOTATION: METRICS_PATH}  # for the plain Prometheus' pods job (prometheus.yml)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(env, exporter.name, exporter.labels),
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": dict(exporter.selector)},
            "template": {
                "metadata": {"labels": dict(exporter.labels), "annotations": annotations},
                "spec": {
                    "serviceAccountName": exporter.name,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": hardened_pod(),
                    "containers": [container(exporter, store)],
                    # A writable /tmp on the read-only root, like every pod's (TLS session caches, core libraries).
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
                },
            },
        },
    }


def container(exporter: ExporterPlan, store: DatastorePlan) -> Manifest:
    secrets = [{"name": variable, "valueFrom": {"secretKeyRef": {"name": exporter.name, "key": variable}}}
               for variable in secret_keys(exporter)]
    return {
        "name": "exporter",
        "image": IMAGES[exporter.engine],
        "imagePullPolicy": "Always",
        "ports": [{"name": "metrics", "containerPort": exporter.port, "protocol": "TCP"}],
        "env": [*({"name": key, "value": value} for key, value in connection(exporter, store).items()), *secrets],
        "resources": {"requests": {"cpu": "25m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
        # Up to 30 s to start; then restarted after a minute unhealthy.
        "startupProbe": probe(exporter, period=2, failures=15),
        "livenessProbe": probe(exporter, period=20),
        "readinessProbe": probe(exporter, period=10),
        "securityContext": hardened_container(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def probe(exporter: ExporterPlan, period: int, failures: int = 3) -> Manifest:
    return {"httpGet": {"path": HEALTH_PATHS[exporter.engine], "port": exporter.port, "scheme": "HTTP"},
            "periodSeconds": period, "timeoutSeconds": 2, "failureThreshold": failures}


def traffic(env: EnvironmentPlan, exporter: ExporterPlan, store: DatastorePlan) -> Manifest:
    """`<store>-exporter-traffic`: in, Prometheus from the monitoring stack's namespace on the metrics port; out, the
    store's port in the private subnets, where RDS and ElastiCache live."""
    return policy(env, f"{exporter.name}-traffic", dict(exporter.labels), dict(exporter.selector),
                  ingress=[scraped_from_monitoring(env, exporter.port)],
                  egress=[{"to": private_subnets(env), "ports": tcp(store.port)}])


def pod_monitor(env: EnvironmentPlan, exporter: ExporterPlan) -> Manifest:
    """Labelled with the stack's selector; the series' `service` is the exporter's name, which the alerts select."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": metadata(env, exporter.name, {**exporter.labels, **env.monitoring_stack.selector}),
        "spec": {
            "selector": {"matchLabels": dict(exporter.selector)},
            "podMetricsEndpoints": [{
                "portNumber": exporter.port,
                "path": METRICS_PATH,
                "interval": SCRAPE_INTERVAL,
                "relabelings": [{"sourceLabels": [m.pod_label(SERVICE_NAME_LABEL)], "targetLabel": m.SERVICE}],
            }],
        },
    }
